# numberguard: two commands matter. `make run` (local mode) and `make test` (every test tier).
# Each installs what it needs: a virtualenv with pinned requirements and DynamoDB Local from npm.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_OK := $(VENV)/.installed-run
PY_OK  := $(VENV)/.installed
NPM_OK := node_modules/.installed

.PHONY: run test lint gates checkov bench setup browser clean layer-lock schema

setup: $(PY_OK) $(NPM_OK)

# Local mode's packages first (all `make run` needs), the test and lint tools on top (`make test`).
$(RUN_OK): requirements-run.txt layers/numberguard/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-run.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@# The layer's package and the function folders, importable as Lambda imports them.
	@# (site-packages is asked for when this line runs: make expands a recipe before the venv exists)
	@printf '%s\n' "$(CURDIR)/layers/numberguard" "$(CURDIR)/functions" \
		> "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/numberguard-layer.pth"
	@touch $@

$(PY_OK): requirements-dev.txt $(RUN_OK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# checkov (the template's security scan) lives in its own virtualenv: its many dependencies never
# touch .venv's pins. The stamp names the version, so changing CHECKOV_VERSION reinstalls it.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .tools/checkov
CHECKOV_OK      := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_OK):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	@rm -f $(CHECKOV_VENV)/.installed-*
	@touch $@

# SAM CLI (`sam build`, `sam validate --lint`) lives in a virtualenv of its own like checkov: its own
# boto3 pin cannot share .venv's. SAM_CLI_TELEMETRY=0: the build reaches nothing but the package index.
SAM_VERSION := 1.170.0
SAM_VENV    := .tools/sam
SAM_OK      := $(SAM_VENV)/.installed-$(SAM_VERSION)
export SAM_CLI_TELEMETRY := 0

$(SAM_OK):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "aws-sam-cli==$(SAM_VERSION)"
	@# The tests point SAM's config folder here: its weekly update check is never due (no call from CI).
	@mkdir -p $(SAM_VENV)/app && echo '{"lastVersionCheck": 4102444800.0, "telemetryEnabled": false}' \
		> $(SAM_VENV)/app/metadata.json
	@rm -f $(SAM_VENV)/.installed-*
	@touch $@

# `make test` builds with the pinned SAM CLI (tests/infra/test_built_artifact.py runs `sam build`).
test: $(SAM_OK)

$(NPM_OK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The layer's lock (layers/numberguard/requirements.txt, what `sam build` installs): requirements.in and
# everything it needs on Lambda, at the versions installed here. After changing requirements.in.
layer-lock: $(PY_OK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r layers/numberguard/requirements.in
	$(BIN)/python -m numberguard_ops.layer_lock --write

run: $(RUN_OK) $(NPM_OK)
	$(BIN)/numberguard local $(ARGS)

# The report test renders the page in headless Chromium (Debian's chromium package).
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y --no-install-recommends chromium \
		|| (apt-get update && apt-get install -y --no-install-recommends chromium) \
		|| { echo "make test needs Debian's chromium package: apt-get install chromium (as root)"; exit 1; }

# The gates (lint) first: a type error or a broken layer contract fails before any test runs.
test: setup browser $(CHECKOV_OK)
	$(MAKE) --no-print-directory gates
	$(MAKE) --no-print-directory checkov
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(MAKE) --no-print-directory gates

# ruff (style, bugs, McCabe complexity <= 12), mypy (types: pyproject's [tool.mypy]), import-linter (the
# layers' import contracts: pyproject's [tool.importlinter]), cfn-lint (the template).
gates: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml

# Checks skipped stack-wide are in .checkov.yaml (reasons in docs/security.md), one resource's inline.
# --skip-download: no call to the vendor's platform (offline CI); the checks themselves are local.
checkov: $(CHECKOV_OK)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --file template.yaml --framework cloudformation \
		--skip-download --compact --quiet

# store/schema_names.py (the attribute names the raw stores use) from the pynamodb models of store/models/.
schema: setup
	$(BIN)/python -m numberguard_ops.schema

bench: setup
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .tools node_modules .pytest_cache .ruff_cache .hypothesis .mypy_cache .import_linter_cache
