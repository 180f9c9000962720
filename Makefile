# slotproof: `make run` serves a demo practice; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint format bench clean install install-dev browser-deps screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	@mkdir -p .data
	$(BIN)/slotproof migrate
	$(BIN)/slotproof seed-demo > .data/demo.json
	@$(BIN)/python -c "import json; d = json.load(open('.data/demo.json')); \
	print(); print('  slotproof is starting on http://$(HOST):$(PORT)'); \
	print('  OpenAPI UI:    http://$(HOST):$(PORT)/schema'); \
	print('  Health:        http://$(HOST):$(PORT)/readyz'); \
	print('  Widget demo:   http://$(HOST):$(PORT)/demo   (a mock practice site; the code is in this log)'); \
	print('  Demo account:  ', d['accountId'], ' setting', d['settingId'], ' widget key', d['publishableKey']); \
	print('  Demo partner:  client_id=' + d['clientId'], ' client_secret=' + d['clientSecret']); \
	print('  Get a token:   curl -s -d grant_type=client_credentials -d client_id=' + d['clientId'] + ' -d client_secret=' + d['clientSecret'] + ' http://$(HOST):$(PORT)/oauth2/token'); \
	print()"
	$(BIN)/slotproof serve --host $(HOST) --port $(PORT)

# Browser tests (tests/browser) need Debian's chromium at /usr/bin/chromium and Playwright for
# Python (a dev dependency). As root, `make test` installs chromium first; otherwise those
# tests are skipped with the reason (SLOTPROOF_REQUIRE_BROWSER=1 makes that a failure: CI).
browser-deps: install-dev
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-cache show chromium >/dev/null 2>&1 || apt-get update -q; \
	  apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; \
	else \
	  echo "browser-deps: /usr/bin/chromium missing and not root: run 'sudo apt-get install chromium'" \
	       "(until then the browser tests are skipped)"; \
	fi
	@$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/pip install --quiet playwright
	@# Node runs the widget's unit tests (node --test) and installs axe-core for the browser
	@# tests from widget/package-lock.json (npm ci: exactly the locked version)
	@if command -v npm >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q nodejs npm || { apt-get update -q && apt-get install -y -q nodejs npm; }; \
	else \
	  echo "browser-deps: npm missing and not root: run 'sudo apt-get install nodejs npm'"; \
	fi
	@if command -v npm >/dev/null 2>&1 && [ ! -f widget/node_modules/axe-core/axe.min.js ]; then \
	  cd widget && npm ci --no-audit --no-fund --loglevel=error; fi

TEST_DEPS := install-dev
ifeq ($(shell id -u),0)
TEST_DEPS += browser-deps
endif

test: $(TEST_DEPS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every step of the widget at 1280 and 320 px, in English and Spanish, checked with axe-core:
# artifacts/screens/<lang>-<width>/NN-<step>.png
screenshots: browser-deps
	$(BIN)/python -m pytest tests/browser/test_journey.py -k every_step -q

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	@for name in availability booking widget funnel load; do \
	  echo "== bench/$$name.py"; $(BIN)/python -m bench.$$name || exit 1; done

clean:
	rm -rf $(VENV) .data build *.egg-info
