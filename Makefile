# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Spark's Delta Lake jars, fetched from Maven Central at install time (never at run time).
JARS := .ivy2/.fetched

.PHONY: demo jars test test-fast lint bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,spark]"
	touch $(STAMP)

$(JARS): $(STAMP) src/aerotwin/lakehouse/spark_jars.py
	$(BIN)/python -m aerotwin.lakehouse.spark_jars > /dev/null
	touch $(JARS)

jars: $(JARS)

# The demo runs on DuckDB: it needs no JDK and no Spark jars.
demo: $(STAMP)
	$(BIN)/aerotwin demo

test: $(STAMP) $(JARS)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not spark"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP) $(JARS)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf data build benchmarks/out
