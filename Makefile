# `make demo` and `make test` install everything into .venv first, so each works on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip install --quiet -c constraints.txt
TEST_EXTRAS = test,minibind,render

.PHONY: demo test venv

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

demo: venv
	$(PIP) -e .
	$(BIN)/unembed bank build --space minilm --from mils-image --out out/mils-image-minilm
	$(BIN)/unembed bank search out/mils-image-minilm --text "a dog catching a frisbee on the beach" -k 5

test: venv
	$(PIP) -e ".[$(TEST_EXTRAS)]"
	$(BIN)/python -m pytest -q
