# The README's commands. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(PY) -m flask --app wsgi
STAMP := $(VENV)/.installed-stamp
# The app reads .env itself (webapp/config.py); keep Flask's CLI from suggesting python-dotenv.
export FLASK_SKIP_DOTENV := 1

.PHONY: install run test lint drills bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# A development SECRET_KEY is generated once into .env (git-ignored); production sets its own.
.env:
	@$(PY) -c "import secrets; print('SECRET_KEY=' + secrets.token_hex(32))" > .env
	@echo "wrote .env with a fresh SECRET_KEY"

run: install .env
	$(FLASK) db upgrade
	$(PY) -m webapp.devserver

# On every core (pytest-xdist): each pytest process has its own SQLite file, PostgreSQL schema and Redis db.
test: install
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .

# The fault drills alone (they also run in `make test`): real workers, stalling sinks, loopback only.
drills: install
	$(PY) -m pytest tests/drills -q $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
