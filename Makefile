# slotproof: `make run` serves a demo practice; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint format bench clean install install-dev

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
	print('  Demo account:  ', d['accountId'], ' setting', d['settingId'], ' widget key', d['publishableKey']); \
	print('  Demo partner:  client_id=' + d['clientId'], ' client_secret=' + d['clientSecret']); \
	print('  Get a token:   curl -s -d grant_type=client_credentials -d client_id=' + d['clientId'] + ' -d client_secret=' + d['clientSecret'] + ' http://$(HOST):$(PORT)/oauth2/token'); \
	print()"
	$(BIN)/slotproof serve --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .data build *.egg-info
