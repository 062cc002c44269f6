# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## Run the whole product on the embedded default (SQLite, worker thread, local fakes, demo data).
demo: $(STAMP)
	$(BIN)/tongxin demo

## Run the whole suite (on PostgreSQL too when TEST_DATABASE_URL is set), after the layer
## contracts of pyproject.toml (docs/architecture.md).
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n auto -q
	$(MAKE) --no-print-directory miniprogram-test

## The mini-program API's benchmark against gunicorn (needs wrk); docs/benchmarks.md has
## the others. Results go to bench/results/ and into docs/benchmarks.md by hand.
bench: $(STAMP)
	$(BIN)/python -m bench.api_load --db sqlite

clean:
	rm -rf $(VENV) var .pytest_cache

## The residents' WeChat mini-program (miniprogram/): tsc --noEmit, Jest unit and render tests, and
## the end-to-end tests against a real `tongxin serve` with the fakes (needs .venv, or TONGXIN_BIN).
.PHONY: miniprogram-test
miniprogram-test: $(STAMP)
	@if command -v node >/dev/null 2>&1; then \
		cd miniprogram && npm ci --no-audit --no-fund && npm test; \
	else \
		echo "miniprogram-test: skipped (node is not on PATH; install Node 20 to run the mini-program tests)"; \
	fi
