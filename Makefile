# numberguard: two commands matter. `make run` (local mode) and `make test` (every test tier).
# Each installs what it needs: a virtualenv with pinned requirements and DynamoDB Local from npm.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_OK  := $(VENV)/.installed
NPM_OK := node_modules/.installed

.PHONY: run test lint bench setup clean

setup: $(PY_OK) $(NPM_OK)

$(PY_OK): requirements-dev.txt layers/numberguard/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@# The layer's package and the function folders, importable as Lambda imports them. Written by the
	@# venv's own python: make expands a recipe before running it, so a $(shell) path is empty on a fresh clone.
	$(BIN)/python -c 'import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "numberguard-layer.pth").write_text("".join(p + "\n" for p in sys.argv[1:]))' "$(CURDIR)/layers/numberguard" "$(CURDIR)/functions"
	@touch $@

$(NPM_OK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	$(BIN)/numberguard local $(ARGS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml

bench: setup
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .hypothesis
