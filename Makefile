# `make demo` and `make test` install everything into .venv first, so each works on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip install --quiet -c constraints.txt
# llama: the inverter tests run SmolLM2 through llama.cpp, compiled from source on a fresh machine (~10 min)
TEST_EXTRAS = test,minibind,imagebind,clip,llama,lexicon,openai,plot,render,notebooks,eval,ray,sae
# MILS's caption files, read where the project keeps them (see README, "Caption banks").
export UNEMBED_MILS_DIR ?= $(abspath ../shared/data/mils)

.PHONY: demo test test-fast venv

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)

# Installing again only when the package's metadata changes keeps `make test-fast` fast.
$(VENV)/.installed-test: setup.cfg pyproject.toml constraints.txt | venv
	$(PIP) -e ".[$(TEST_EXTRAS)]"
	touch $@

demo: venv
	$(PIP) -e ".[llama,minibind,plot]"
	$(BIN)/unembed demo --out out/demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# Everything but the tests marked slow (LLMs, training, servers, notebooks): under a minute on 2 cores.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow"
