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

## Run the whole suite (on PostgreSQL too when TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest -n auto -q

## The mini-program API's benchmark against gunicorn (needs wrk); docs/benchmarks.md has
## the others. Results go to bench/results/ and into docs/benchmarks.md by hand.
bench: $(STAMP)
	$(BIN)/python -m bench.api_load --db sqlite

clean:
	rm -rf $(VENV) var .pytest_cache
