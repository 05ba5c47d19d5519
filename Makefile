# wmsim — the one build file.
#
#   make            libwmsim.a and the wmsim binary (CUDA sources too when nvcc is found)
#   make demo       install dependencies, build, run the default scenario
#   make test       every Check suite and the end-to-end tests
#   make clients    the example policies outside wmsim: build/python/wmsim_policy, build/clients/libexample_policy.so
#   make test-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-valgrind  the end-to-end suites with wmsim under valgrind memcheck (slow)
#   make bench      the benchmarks in bench/
#   make contact-sheet  docs/contact_sheet.png: every example, day and night
#   make trainset   the default synthetic training set (data/trainset)
#   make tokenizer  train the shipped tokenizer on it (models/tokenizer.wmck)
#   make dynamics   train the shipped dynamics model on it (models/dynamics.wmck)
#   make estimator  train the shipped inverse-dynamics estimator on it (models/estimator.wmck)
#   make vla        train the shipped camera-based baseline policy (models/vla-tiny.wmck)
#   make deps       install missing Debian packages (as root), else print the command
#   make config     say what the build found (CUDA, packages)
#   make CUDA=0|1   force the CUDA backend off / on
#   make MPI=0|1    force MPI (cluster runs under mpirun/srun) off / on

.DEFAULT_GOAL := all
SHELL := /bin/bash

NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
# CUDA is on by default only when NVCC names an executable file.
CUDA ?= $(shell test -n "$(NVCC)" && test -x "$(NVCC)" && echo 1 || echo 0)
# MPI (Open MPI) is on by default when its C bindings are installed.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
BUILD ?= build
SANITIZE ?= 0
PYTHON ?= /usr/bin/python3

CC ?= cc
PKG_LIBS := libprotobuf-c jansson libpng libavcodec libavformat libswscale libavutil openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PKG_LDLIBS := $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null)
CHECK_LDLIBS := $(shell pkg-config --libs check 2>/dev/null)

OPT := -O2
SAN_FLAGS :=
ifeq ($(SANITIZE),1)
  SAN_FLAGS := -fsanitize=address,undefined
  OPT := -O1 $(SAN_FLAGS) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# OpenMP spreads the world model's CPU kernels over the cores.
CFLAGS := -std=c11 -Wall -Wextra -Werror $(OPT) -g -fopenmp -D_POSIX_C_SOURCE=200809L \
          -I. -I$(BUILD)/gen $(PKG_CFLAGS)
LDFLAGS := $(SAN_FLAGS) -fopenmp
LDLIBS := $(PKG_LDLIBS) -lm -lpthread -ldl

# Debian's packages this project needs; `make deps` installs the missing ones.
DEB_PACKAGES := build-essential pkg-config protobuf-compiler protobuf-c-compiler \
  libprotobuf-c-dev libjansson-dev libpng-dev libavcodec-dev libavformat-dev \
  libswscale-dev libavutil-dev libopenblas-dev check libsubunit-dev python3-protobuf python3-numpy \
  chromium-headless-shell openmpi-bin libopenmpi-dev valgrind clang libclang-rt-dev libomp-dev

MODULES := core actions scenarios sim render worldmodel datasets
PROTOS := scenarios/scenario.proto scenarios/suite.proto sim/episode_log.proto sim/policy_protocol.proto
GEN_C := $(PROTOS:%.proto=$(BUILD)/gen/%.pb-c.c) $(BUILD)/gen/scenarios/scenario_proto_text.c \
  $(BUILD)/gen/scenarios/suite_proto_text.c
GEN_H := $(PROTOS:%.proto=$(BUILD)/gen/%.pb-c.h)

LIB_SRC := $(filter-out sim/wmsim.c,$(wildcard $(addsuffix /*.c,$(MODULES))))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_C:$(BUILD)/gen/%.c=$(BUILD)/obj/gen/%.o)

ifeq ($(MPI),1)
  CFLAGS += -DWMSIM_MPI=1 $(shell pkg-config --cflags ompi-c)
  LDLIBS += $(shell pkg-config --libs ompi-c)
endif

ifeq ($(CUDA),1)
  CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
  CUDA_SRC := $(wildcard $(addsuffix /*.cu,$(MODULES)))
  LIB_OBJ += $(CUDA_SRC:%.cu=$(BUILD)/obj/%.cu.o)
  CFLAGS += -DWMSIM_CUDA=1
  NVCCFLAGS := -O2 -std=c++17 -I. -I$(BUILD)/gen -DWMSIM_CUDA=1 \
    -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 $(if $(PTXAS_VERBOSE),-Xptxas -v)
  # The static runtime: binaries run on machines without CUDA libraries on
  # the loader path (and then report no device).
  LDLIBS += -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
endif

LIB := $(BUILD)/libwmsim.a
BIN := $(BUILD)/wmsim
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)

.PHONY: all demo test run-tests test-asan test-valgrind bench deps config clean check-deps contact-sheet trainset tokenizer estimator \
  dynamics vla fuzz fuzz-lib fuzz-bin fuzz-smoke fuzz-run fuzz-seeds
.SECONDARY:

all: check-deps $(BIN)

config:
	@echo "CUDA=$(CUDA) (nvcc: $(if $(NVCC),$(NVCC),not found))"
	@echo "MPI=$(MPI) (Open MPI: $$(pkg-config --modversion ompi-c 2>/dev/null || echo not found))"
	@echo "CC=$(CC) BUILD=$(BUILD) SANITIZE=$(SANITIZE)"
	@for p in $(PKG_LIBS) check; do printf '%s: ' $$p; pkg-config --modversion $$p 2>/dev/null || echo missing; done

check-deps:
	@for p in $(PKG_LIBS) check; do pkg-config --exists $$p || { \
	  echo "missing library '$$p': run 'make deps' first" >&2; exit 1; }; done
	@for t in protoc protoc-c; do command -v $$t >/dev/null || { \
	  echo "missing tool '$$t': run 'make deps' first" >&2; exit 1; }; done

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	cmd="apt-get install -y --no-install-recommends $$(echo $$missing)"; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: missing packages; run as root:"; \
	  echo "  apt-get update && $$cmd"; exit 1; fi; \
	echo "deps: installing $$(echo $$missing)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && $$cmd -qq

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=. --c_out=$(BUILD)/gen $<

# The schema is compiled into the binary so `wmsim` can encode .pbtxt files
# with protoc from any working directory.
$(BUILD)/gen/scenarios/%_proto_text.c: scenarios/%.proto
	@mkdir -p $(dir $@)
	{ echo 'const char $*_proto_text[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $<; echo ';'; } > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-parameter -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu $(GEN_H)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/sim/wmsim.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c tests/testutil.h tests/testpolicy.h tests/numcheck.h tests/browser.h $(LIB) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DWMSIM_SOURCE_DIR='"$(CURDIR)"' -DWMSIM_BUILD_DIR='"$(CURDIR)/$(BUILD)"' -DWMSIM_PYTHON='"$(PYTHON)"' $< $(LIB) $(LDFLAGS) $(CHECK_LDLIBS) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c bench/benchutil.h $(LIB) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tools/%: tools/%.c $(LIB) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# ---- policy clients (clients/) -------------------------------------------
# The example policies that live outside wmsim, built for the tests and for
# users: $(BUILD)/python/wmsim_policy/, the Python package with its message
# module generated by protoc (run it as PYTHONPATH=$(BUILD)/python $(PYTHON)
# -m wmsim_policy.example), and $(BUILD)/clients/libexample_policy.so, the C
# example for `--policy lib:` (built plain: no sanitizer runtime in a library
# that wmsim dlopens).
CLIENT_PY := $(patsubst clients/python/%,$(BUILD)/python/%,$(filter-out %_pb2.py,\
  $(wildcard clients/python/wmsim_policy/*.py))) $(BUILD)/python/wmsim_policy/policy_protocol_pb2.py
CLIENT_LIB := $(BUILD)/clients/libexample_policy.so
.PHONY: clients

clients: $(CLIENT_PY) $(CLIENT_LIB)

$(BUILD)/python/wmsim_policy/%.py: clients/python/wmsim_policy/%.py
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/python/wmsim_policy/policy_protocol_pb2.py: sim/policy_protocol.proto
	@mkdir -p $(dir $@)
	protoc --proto_path=sim --python_out=$(dir $@) $<

# A library policy that misbehaves on request, for tests/test_closed_loop.c.
$(BUILD)/tests/libbad_policy.so: tests/fixtures/bad_policy.c clients/c/wmsim_policy.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -I. $< -lm -o $@

$(CLIENT_LIB): clients/c/example_policy.c clients/c/wmsim_policy.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared $< -lm -o $@
# ---- end of policy clients ----------------------------------------------

# Each suite runs from the source tree with the binary under test named in
# WMSIM_BIN; the end-to-end suites run that binary on real files.
test: deps
	@$(MAKE) --no-print-directory run-tests

run-tests: check-deps clients $(BUILD)/tests/libbad_policy.so $(BIN) $(TEST_BIN)
	@failed=0; for t in $(TEST_BIN); do \
	  echo "== $$t"; WMSIM_BIN=$(CURDIR)/$(BIN) CK_DEFAULT_TIMEOUT=120 $$t || failed=1; done; \
	if [ $$failed = 0 ]; then echo "make test: all suites passed"; else echo "make test: FAILED" >&2; exit 1; fi

# Without MPI: Open MPI's own allocations at MPI_Init would drown the leak
# report; the plain build runs the MPI tests, this one the single-process
# path a build without MPI has.
test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 CUDA=0 MPI=0 run-tests

# The end-to-end suites with the binary under valgrind memcheck (plain -O2
# -g, without MPI or CUDA, whose runtimes valgrind cannot vouch for).
# Slow: about 35 minutes here; not part of `make test`. Known reports from
# libraries are suppressed, each with its reason, in tests/valgrind.supp.
# Test cases tagged "heavy" (a world model, vla-tiny over many episodes,
# mpirun) are left out: under valgrind they take hours; so is "spawn"
# (valgrind runs posix_spawn as a fork, which cannot report a failed exec).
VALGRIND_SUITES := test_cli test_replay test_eval test_closed_loop test_synth test_clips test_generate \
  test_import test_tokenizer_cli test_dream_cli
test-valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build-valgrind CUDA=0 MPI=0 check-deps clients \
	  build-valgrind/tests/libbad_policy.so build-valgrind/wmsim $(VALGRIND_SUITES:%=build-valgrind/tests/%)
	@rm -rf build-valgrind/logs && mkdir -p build-valgrind/logs; failed=0; \
	for t in $(VALGRIND_SUITES); do echo "== $$t under valgrind"; \
	  WMSIM_BIN=$(CURDIR)/tests/valgrind_wmsim.sh WMSIM_REAL_BIN=$(CURDIR)/build-valgrind/wmsim \
	  VALGRIND_LOG_DIR=$(CURDIR)/build-valgrind/logs CK_DEFAULT_TIMEOUT=3600 CK_TIMEOUT_MULTIPLIER=20 CK_EXCLUDE_TAGS='heavy spawn' \
	  build-valgrind/tests/$$t || failed=1; done; \
	bad=$$(grep -l . build-valgrind/logs/*.log 2>/dev/null | wc -l); \
	echo "test-valgrind: $$(ls build-valgrind/logs | wc -l) wmsim runs, $$bad with memcheck reports"; \
	if [ $$failed = 0 ] && [ $$bad = 0 ]; then echo "make test-valgrind: clean"; \
	else grep -h -A12 "== [0-9]* ==\|^==[0-9]*== [A-Z]" build-valgrind/logs/*.log | head -80; exit 1; fi

# ---- fuzzing (tests/fuzz/, tests/FUZZING.md) -----------------------------
# libFuzzer harnesses, one per parser of outside input (tests/fuzz/fuzz_NAME.c),
# built with clang, -fsanitize=fuzzer,address,undefined, against a copy of
# the library compiled by clang with the same sanitizers in $(FUZZ_BUILD)
# (BUILD's objects are gcc's; CUDA and MPI off there).
#   make fuzz          the harnesses, $(BUILD)/fuzz/fuzz_NAME
#   make fuzz-smoke    each for FUZZ_SMOKE_SECONDS (20) over a copy of its seed
#                      corpus and its regression inputs; fails on any crash,
#                      leak, timeout or out-of-memory (the CI check)
#   make fuzz-run FUZZ_SECONDS=600   the long run (tests/FUZZING.md records one);
#                      FUZZ_NAMES="clip suite" picks harnesses
#   make fuzz-seeds    rewrites tests/fuzz/corpus/checkpoint/'s tiny models
# A harness also runs standalone over a corpus, fuzzing nothing:
#   $(BUILD)/fuzz/fuzz_NAME -runs=0 tests/fuzz/corpus/NAME
# Generated inputs go to $(FUZZ_WORK)/NAME/corpus, a copy: the seed corpus in
# the source tree is only read. Crashes land in $(FUZZ_WORK)/NAME/artifacts/.
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_WORK ?= $(BUILD)/fuzz/work
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_NAMES ?= $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
# A hang of 60 s or 2 GB of memory for one input is a finding, as a crash is.
FUZZ_OPTIONS ?= -timeout=60 -rss_limit_mb=2048 -print_final_stats=1
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -Wall -Wextra -Werror -O1 -g -fopenmp -D_POSIX_C_SOURCE=200809L -I. -I$(FUZZ_BUILD)/gen \
  $(PKG_CFLAGS) -DWMSIM_SOURCE_DIR='"$(CURDIR)"'
FUZZ_BIN := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

# Two steps: the library first (its own make, whose dependency files know
# when it is stale), then the harnesses against the fresh archive.
fuzz: check-deps
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: no $(FUZZ_CC): run 'make deps' first" >&2; exit 1; }
	@$(MAKE) --no-print-directory fuzz-lib
	@$(MAKE) --no-print-directory fuzz-bin

fuzz-lib:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CUDA=0 MPI=0 SANITIZE=0 \
	  OPT="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_BUILD)/libwmsim.a

fuzz-bin: $(FUZZ_BIN)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_BUILD)/libwmsim.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) $< $(FUZZ_BUILD)/libwmsim.a $(PKG_LDLIBS) \
	  -lm -lpthread -ldl -o $@

# Runs each harness in FUZZ_NAMES for $(1) seconds over a fresh copy of its
# corpus (plus its regression inputs, read only); the log is
# $(FUZZ_WORK)/NAME/fuzz.log, its last lines are shown.
define fuzz_each
failed=0; for n in $(FUZZ_NAMES); do w=$(FUZZ_WORK)/$$n; rm -rf $$w; mkdir -p $$w/corpus $$w/artifacts; \
  cp tests/fuzz/corpus/$$n/* $$w/corpus/; \
  extra=; test -d tests/fuzz/regressions/$$n && extra=tests/fuzz/regressions/$$n; \
  echo "== fuzz_$$n: $(1) s (log: $$w/fuzz.log)"; \
  if $(BUILD)/fuzz/fuzz_$$n $$w/corpus $$extra -max_total_time=$(1) -artifact_prefix=$$w/artifacts/ \
       $(FUZZ_OPTIONS) > $$w/fuzz.log 2>&1; then \
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|peak_rss_mb)' $$w/fuzz.log | tr -s '\n\t ' ' '; echo; \
  else failed=1; tail -n 60 $$w/fuzz.log; echo "fuzz_$$n: FAILED (input in $$w/artifacts/)" >&2; fi; \
done; test $$failed = 0
endef

fuzz-smoke: fuzz
	@$(call fuzz_each,$(FUZZ_SMOKE_SECONDS)) && echo "make fuzz-smoke: no crashes"

fuzz-run: fuzz
	@$(call fuzz_each,$(FUZZ_SECONDS)) && echo "make fuzz-run: no crashes"

$(BUILD)/tests/fuzz_gen_seeds: tests/fuzz/gen_seeds.c $(LIB) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

fuzz-seeds: check-deps $(BUILD)/tests/fuzz_gen_seeds
	$(BUILD)/tests/fuzz_gen_seeds tests/fuzz/corpus/checkpoint

# The regression suite includes the harnesses (tests/test_fuzz_regressions.c).
$(BUILD)/tests/test_fuzz_regressions: $(wildcard tests/fuzz/fuzz_*.c tests/fuzz/fuzz_util.h)
# ---- end of fuzzing --------------------------------------------------------

bench: check-deps $(BIN) $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# The default synthetic training set of the shipped models: 8 examples x 64
# variations x up to 20 s at 10 Hz, expert with exploration. Not committed;
# this command reproduces it (and resumes it when interrupted).
TRAINSET ?= data/trainset
trainset: all
	$(BIN) clips generate --scenarios scenarios/examples --variations 64 --policy expert \
	  --explore --seconds 20 --out $(TRAINSET) --jobs $$(nproc)

# The shipped tokenizer, trained on the default training set; models/README.md
# records this command's output. An interrupted run resumes; a finished one
# (its chart is written last) is only copied again.
TOKENIZER_RUN ?= out/tokenizer
tokenizer: all
	@test -d $(TRAINSET) || { echo "tokenizer: no $(TRAINSET): run 'make trainset' first" >&2; exit 1; }
	@mkdir -p $(TOKENIZER_RUN)
	test -f $(TOKENIZER_RUN)/tokenizer.wmck.png || $(BIN) tokenizer train --data $(TRAINSET) \
	  --out $(TOKENIZER_RUN)/tokenizer.wmck --steps 6000 \
	  $$(test -f $(TOKENIZER_RUN)/tokenizer.wmck.state && echo --resume)
	cp $(TOKENIZER_RUN)/tokenizer.wmck models/tokenizer.wmck
	cp $(TOKENIZER_RUN)/tokenizer.wmck.csv models/tokenizer.csv
	cp $(TOKENIZER_RUN)/tokenizer.wmck.png models/tokenizer.png

# The shipped inverse-dynamics estimator (ACT-Bench-style action fidelity),
# trained on the default training set; models/README.md records this
# command's output and its eval. Resumes and copies as the tokenizer does.
ESTIMATOR_RUN ?= out/estimator
estimator: all
	@test -d $(TRAINSET) || { echo "estimator: no $(TRAINSET): run 'make trainset' first" >&2; exit 1; }
	@mkdir -p $(ESTIMATOR_RUN)
	test -f $(ESTIMATOR_RUN)/estimator.wmck.png || $(BIN) worldmodel estimator train --data $(TRAINSET) \
	  --out $(ESTIMATOR_RUN)/estimator.wmck --steps 2000 \
	  $$(test -f $(ESTIMATOR_RUN)/estimator.wmck.state && echo --resume)
	cp $(ESTIMATOR_RUN)/estimator.wmck models/estimator.wmck
	cp $(ESTIMATOR_RUN)/estimator.wmck.csv models/estimator.csv
	cp $(ESTIMATOR_RUN)/estimator.wmck.png models/estimator.png

# The shipped dynamics model: the training set as token shards of the shipped
# tokenizer, then the recipe models/README.md records (4 layers of 128
# channels, 3-frame windows, half the steps masked). Resumes like `tokenizer`.
SHARDS ?= out/shards
DYNAMICS_RUN ?= out/dynamics
dynamics: all
	@test -d $(TRAINSET) || { echo "dynamics: no $(TRAINSET): run 'make trainset' first" >&2; exit 1; }
	test -f $(SHARDS)/index.json || $(BIN) worldmodel tokenize --data $(TRAINSET) \
	  --tokenizer models/tokenizer.wmck --out $(SHARDS)
	@mkdir -p $(DYNAMICS_RUN)
	test -f $(DYNAMICS_RUN)/dynamics.wmck.png || $(BIN) worldmodel train --shards $(SHARDS) \
	  --out $(DYNAMICS_RUN)/dynamics.wmck --steps 6000 --batch 8 --frames 3 --layers 4 --channels 128 \
	  --heads 4 --val-every 500 --save-every 250 $$(test -f $(DYNAMICS_RUN)/dynamics.wmck.state && echo --resume)
	cp $(DYNAMICS_RUN)/dynamics.wmck models/dynamics.wmck
	cp $(DYNAMICS_RUN)/dynamics.wmck.csv models/dynamics.csv
	cp $(DYNAMICS_RUN)/dynamics.wmck.png models/dynamics.png

# The shipped camera-based baseline policy vla-tiny: behaviour cloning of the
# expert with DAgger on variations of the example scenarios (no training set
# needed: it drives its own episodes); models/README.md records this
# command's output. A run restarts from scratch.
VLA_RUN ?= out/vla
vla: all
	@mkdir -p $(VLA_RUN)
	$(BIN) vla train --scenarios scenarios/examples --out $(VLA_RUN)/vla-tiny.wmck
	cp $(VLA_RUN)/vla-tiny.wmck models/vla-tiny.wmck
	cp $(VLA_RUN)/vla-tiny.wmck.csv models/vla-tiny.csv

# docs/contact_sheet.png, shown in the README: look at it after renderer changes.
contact-sheet: check-deps $(BUILD)/tools/contact_sheet
	$(BUILD)/tools/contact_sheet docs/contact_sheet.png 15 $(sort $(wildcard scenarios/examples/*.pbtxt))

demo: deps
	$(MAKE) all
	$(BIN) run scenarios/examples/guard_stop_proceed.pbtxt --policy expert --out out/demo \
	  --video out/demo/episode.mp4 --hud --bev --size 512x256
	$(BIN) clips generate --scenarios scenarios/examples/guard_stop_proceed.pbtxt --out out/demo/clips --quiet
	$(BIN) tokenizer eval --model models/tokenizer.wmck --data out/demo/clips --split all --frames 64 \
	  --sheet out/demo/tokenizer.png
	awk 'BEGIN { print "t,accel,brake,steer"; for (i = 0; i < 30; i++) \
	  printf "%.1f,%s,0,%s\n", i / 10, i < 15 ? "1" : "0", i < 15 ? "0" : "0.05" }' > out/demo/actions.csv
	$(BIN) dream --context scenarios/examples/guard_stop_proceed.pbtxt --actions out/demo/actions.csv \
	  --frames 30 --out out/demo/dream.mp4 --side-by-side
	@echo "demo: result in out/demo/result.json, log in out/demo/episode.log, video out/demo/episode.mp4,"
	@echo "      the shipped tokenizer's reconstructions of the episode in out/demo/tokenizer.png,"
	@echo "      the shipped world model's 3 s dream beside the oracle in out/demo/dream.mp4"

clean:
	rm -rf build build-asan build-fuzz build-valgrind

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
