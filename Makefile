# The two commands a user needs: `make run` and `make test`. Each sets itself up
# from a fresh clone (virtualenv, Python packages, and the system packages it
# needs when running as root).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 1880
DATA_DIR ?= $(HOME)/.flowrt

.PHONY: run test lint bench bench-smoke bench-editor bench-floor bench-soak system-deps clean

$(STAMP): pyproject.toml examples/flowrt-example-nodes/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e examples/flowrt-example-nodes
	touch $(STAMP)

system-deps:
	@./scripts/system-deps.sh

run: $(STAMP)
	@./scripts/system-deps.sh mosquitto || true
	@echo "flowrt editor: http://127.0.0.1:$(PORT)/"
	$(BIN)/flowrt run flows/demo.json --port $(PORT) --data-dir $(DATA_DIR)

test: $(STAMP) system-deps
	$(BIN)/ruff check flowrt nodes tests examples bench
	$(BIN)/mypy flowrt nodes/flowrt_nodes
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check flowrt nodes tests examples bench
	$(BIN)/mypy flowrt nodes/flowrt_nodes

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run

bench-smoke: $(STAMP) system-deps
	$(BIN)/python -m bench.run --smoke

bench-editor: $(STAMP) system-deps
	$(BIN)/python -m bench.editor_drag

# Relay CPU beside the least a Python process can do (bench/floor.py), ~6 minutes.
bench-floor: $(STAMP) system-deps
	$(BIN)/python -m bench.floor

# An hour at 2,000 msg/s through flows/edge-gateway.json (RSS and CPU over time); opt-in.
bench-soak: $(STAMP) system-deps
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache
