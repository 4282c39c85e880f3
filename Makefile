# `make demo` and `make test` install everything into .venv first, so each works on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip install --quiet -c constraints.txt
# llama: the inverter tests run SmolLM2 through llama.cpp, compiled from source on a fresh machine (~10 min)
TEST_EXTRAS = test,minibind,imagebind,clip,llama,plot,render

.PHONY: demo test venv

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

demo: venv
	$(PIP) -e ".[llama,plot]"
	$(BIN)/unembed bank build --space minilm --from mils-image --out out/mils-image-minilm
	$(BIN)/unembed invert --text "a dog catching a frisbee on the beach" --space minilm --bank out/mils-image-minilm \
		--steps 3 --requested 20 --json out/invert.json --plot out/invert.png

test: venv
	$(PIP) -e ".[$(TEST_EXTRAS)]"
	$(BIN)/python -m pytest -q
