# Set-up and checks. `make test` installs what it needs first, so on a fresh
# machine it is the one command that runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROTO  := proto/sanas/v1/sanas.proto
STUBS  := python_client/sanas/v1

.PHONY: install proto test lint serve demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[paddle,demo,dev]'
	touch $(STAMP)

install: $(STAMP)

# Regenerates the committed Python stubs from the schema (tests/test_stubs.py
# fails when the committed ones drift).
proto: $(STAMP)
	$(PY) tools/gen_stubs.py $(STUBS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd proto && ../$(VENV)/bin/buf lint && ../$(VENV)/bin/buf format --exit-code -d

test: $(STAMP)
	$(MAKE) lint
	$(PY) -m pytest -q

serve: $(STAMP)
	$(VENV)/bin/sanas-server --host 127.0.0.1 --port 8881 --checkpoint-dir ./sanas_checkpoints

bench: $(STAMP)
	$(PY) bench/controller_speed.py

demo: $(STAMP)
	$(PY) -m sanas.demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
