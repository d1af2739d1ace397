// Loaded before the page is drawn (not deferred): the phone nav folds behind its Menu button only where scripts
// run, without first showing the whole menu on every page load.
document.documentElement.classList.add("js");
