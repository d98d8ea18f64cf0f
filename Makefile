# numberguard: two commands matter. `make run` (local mode) and `make test` (every test tier).
# Each installs what it needs: a virtualenv with pinned requirements and DynamoDB Local from npm.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_OK  := $(VENV)/.installed
NPM_OK := node_modules/.installed

.PHONY: run test lint bench setup browser clean

setup: $(PY_OK) $(NPM_OK)

$(PY_OK): requirements-dev.txt layers/numberguard/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@# The layer's package and the function folders, importable as Lambda imports them.
	@# (site-packages is asked for when this line runs: make expands a recipe before the venv exists)
	@printf '%s\n' "$(CURDIR)/layers/numberguard" "$(CURDIR)/functions" \
		> "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/numberguard-layer.pth"
	@touch $@

$(NPM_OK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	$(BIN)/numberguard local $(ARGS)

# The report test renders the page in headless Chromium (Debian's chromium package).
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y --no-install-recommends chromium \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium) \
		|| { echo "make test needs Debian's chromium package: apt-get install chromium (as root)"; exit 1; }

test: setup browser
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
