# The two commands of the README:
#   make test   set up everything the tests need, then lint, type-check and test
#   make demo   set up everything, create a local cluster and show what to do next
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
BASE_IMAGE ?= debian:bookworm-slim

.PHONY: venv docker tools base-image examples lint test test-unit demo clean

$(BIN)/clusterous: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/clusterous

venv: $(BIN)/clusterous

docker:
	bash scripts/ensure-docker.sh

tools:
	bash scripts/ensure-tools.sh

examples:
	bash scripts/busybox-for-examples.sh

base-image: docker
	bash scripts/prepare-base-image.sh $(BASE_IMAGE)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: venv tools base-image lint
	$(BIN)/pytest

test-unit: venv lint
	$(BIN)/pytest -m "not e2e"

demo: venv tools base-image
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
