// The development sign-in page's demo logins (templates/accounts/login.html): "Use" fills the form with that
// account, ready to sign in. A file of its own: the CSP allows no inline script.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-demo-email]");
  if (!button) return;
  const form = document.querySelector("form[action$='/login']");
  if (!form) return;
  form.elements.email.value = button.dataset.demoEmail;
  form.elements.password.value = button.dataset.demoPassword;
  form.querySelector("button[type=submit]").focus();
});
