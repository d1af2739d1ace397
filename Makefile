# The README's commands. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(PY) -m flask --app wsgi
STAMP := $(VENV)/.installed-stamp
# The app reads .env itself (webapp/config.py); keep Flask's CLI from suggesting python-dotenv.
export FLASK_SKIP_DOTENV := 1

.PHONY: install evennia run test lint drills bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Real Evennia for tests/worlds/test_real_evennia.py, in its own virtualenv (it brings Django and Twisted, which stay
# out of the app's). Where it cannot be installed (no network, an unsupported Python) the reason is kept in
# .venv-evennia/.install-failed, `make test` goes on and that test skips saying why; `rm -rf .venv-evennia` retries.
EVENNIA_VENV := .venv-evennia
EVENNIA_STAMP := $(EVENNIA_VENV)/.installed-stamp
EVENNIA_SPEC := evennia>=5,<6

$(EVENNIA_STAMP):
	@rm -f $(EVENNIA_VENV)/.install-failed
	@echo "installing '$(EVENNIA_SPEC)' into $(EVENNIA_VENV) (a few minutes, once)"
	@if $(PYTHON) -m venv $(EVENNIA_VENV) && $(EVENNIA_VENV)/bin/python -m pip install --quiet '$(EVENNIA_SPEC)' \
	     > $(EVENNIA_VENV)/install.log 2>&1 && $(EVENNIA_VENV)/bin/evennia --version >> $(EVENNIA_VENV)/install.log 2>&1; \
	then echo "Evennia $$($(EVENNIA_VENV)/bin/python -c 'import evennia; print(evennia.__version__)' 2>/dev/null) installed"; \
	else mkdir -p $(EVENNIA_VENV); rm -f $(EVENNIA_VENV)/bin/evennia; \
	  echo "pip install '$(EVENNIA_SPEC)' with $$($(PYTHON) --version 2>&1) failed: $$(tail -n 1 $(EVENNIA_VENV)/install.log 2>/dev/null)" \
	    > $(EVENNIA_VENV)/.install-failed; cat $(EVENNIA_VENV)/.install-failed; fi
	@touch $@

evennia: $(EVENNIA_STAMP)

# A development SECRET_KEY is generated once into .env (git-ignored); production sets its own.
.env:
	@$(PY) -c "import secrets; print('SECRET_KEY=' + secrets.token_hex(32))" > .env
	@echo "wrote .env with a fresh SECRET_KEY"

# The supervisor migrates and seeds only when the database says it must (webapp/devserver.py), prints one block
# (URL, demo logins, demo inbox) and keeps the children's output in instance/dev.log. The app's bytecode is written
# once here, even where PYTHONDONTWRITEBYTECODE is set: each of the four Pythons would compile it again every start.
run: install .env
	@PYTHONDONTWRITEBYTECODE= $(PY) -m compileall -q webapp jobs wsgi.py
	@$(PY) -m webapp.devserver

# On every core (pytest-xdist): each pytest process has its own SQLite file, PostgreSQL schema and Redis db.
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: the suite starts dozens of Pythons (workers,
# `make run`'s children, the CLI) that would each compile the app again, and pytest would rewrite every test's
# asserts in each of its processes. compileall writes the app's once, before the pytest processes race to.
test: install evennia
	PYTHONDONTWRITEBYTECODE= $(PY) -m compileall -q -j 0 webapp jobs wsgi.py
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .

# The fault drills alone (they also run in `make test`): real workers, stalling sinks, loopback only.
drills: install
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest tests/drills -q $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(EVENNIA_VENV) instance .pytest_cache
