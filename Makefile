PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: review test fuzz lint bench clean validate docs

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

# Guard rails: lint and import order (ruff), strict types on the core layers (mypy), then the suite
# (which also checks the layers, import cycles and module/folder sizes: tests/test_architecture.py).
lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy --strict src/inferchip/spec src/inferchip/catalog src/inferchip/workload src/inferchip/cost src/inferchip/mapping \
		src/inferchip/sim src/inferchip/performance src/inferchip/validation src/inferchip/review \
		src/inferchip/explore src/inferchip/interfaces

test: lint
	$(BIN)/python -m pytest

# The property and fuzz tests again with fresh draws (make test draws the same ones every run): a failure
# prints the input to add to the suite as an @example. SEED=n repeats a draw.
fuzz: $(VENV)/.test-deps
	$(BIN)/python -m pytest -m hypothesis --hypothesis-profile=fuzz $(if $(SEED),--hypothesis-seed=$(SEED))

bench: $(BIN)/inferchip
	$(BIN)/python benchmarks/bench_predict.py

validate: $(BIN)/inferchip
	$(BIN)/inferchip validate src/inferchip/catalog/validation_cases.csv

clean:
	rm -rf $(VENV) review build *.egg-info src/*.egg-info
