PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: review test bench clean validate docs

$(BIN)/inferchip: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/inferchip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

review: $(BIN)/inferchip
	$(BIN)/inferchip review

test: $(VENV)/.test-deps
	$(BIN)/python -m pytest

bench: $(BIN)/inferchip
	$(BIN)/python benchmarks/bench_predict.py

validate: $(BIN)/inferchip
	$(BIN)/inferchip validate src/inferchip/catalog/validation_cases.csv

clean:
	rm -rf $(VENV) review build *.egg-info src/*.egg-info
