"""Work done once per pytest run and shared by its pytest-xdist workers: a file built under a lock in a folder
every worker of this run sees (their basetemps are side by side), never one of an earlier run."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The file `name`, made by `make(path)` by whichever pytest process of this run asks first; the others wait
    for it and get the same file."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / name
    with (shared / f"{name}.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not path.exists():
            partial = shared / f"{name}.partial"
            make(partial)
            partial.rename(path)  # a `make` that failed leaves no file: the next one tries again
    return path
