# `make demo` and `make test` install everything into .venv first, so each works on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip install --quiet -c constraints.txt
# llama: the inverter tests run SmolLM2 through llama.cpp, compiled from source on a fresh machine (~10 min)
TEST_EXTRAS = test,minibind,imagebind,clip,llama,plot,render,notebooks

.PHONY: demo test venv

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

demo: venv
	$(PIP) -e ".[llama,minibind,plot]"
	$(BIN)/unembed demo --out out/demo

test: venv
	$(PIP) -e ".[$(TEST_EXTRAS)]"
	$(BIN)/python -m pytest -q
