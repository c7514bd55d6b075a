# The two commands a new machine needs: `make demo` and `make test`.
# Each creates (or reuses) the virtualenv in .venv and installs what the project declares.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,sandbox]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/policydesk demo

test: lint
	$(BIN)/python -m pytest -q

# the unit tests alone: no gunicorn, Celery worker or crash tests
test-fast: lint
	$(BIN)/python -m pytest -q -m "not stack and not crash"

# ruff, the formatting, the import contracts and the types; .pre-commit-config.yaml runs the same
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/mypy

# incremental: the cache in .mypy_cache makes a re-run take seconds
typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .policydesk
