# mindiff build. `make` builds the library objects and the train/sample binaries (CPU, OpenMP);
# `make test` installs missing Debian packages, then builds and runs the GoogleTest suite and a
# few seconds of each fuzz harness. `make fuzz` fuzzes every input format for FUZZ_SECONDS each;
# `make test-sanitize` runs the whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.

# Plain `make` builds `all`, wherever the first rule of the file happens to be.
.DEFAULT_GOAL := all

CXX      ?= g++
CXXFLAGS ?= -O3 -march=native
# -fno-trapping-math: no code here relies on floating-point traps; it lets the vectoriser turn
# the selects of branch-free math (tensor/ops/vector_math.h) into blends. Values are unchanged.
CXXFLAGS += -std=c++17 -fopenmp -fno-trapping-math -Wall -Wextra -I. -MMD -MP
LDFLAGS  += -fopenmp
LDLIBS   := -lstb
BUILD    := build
# Where train and sample go: the top of the repository (SANITIZE=1: build-sanitize/).
BIN      :=

# SANITIZE=1 (what `make test-sanitize` passes): the same sources with AddressSanitizer and
# UndefinedBehaviorSanitizer, in a folder of their own (objects and binaries in build-sanitize/),
# with stb compiled in from its header (instrumented too) in place of Debian's prebuilt libstb.
SANITIZE ?=
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifneq ($(SANITIZE),)
BUILD    := build-sanitize
BIN      := build-sanitize/
CXXFLAGS := $(filter-out -O3,$(CXXFLAGS)) -O1 -g1 $(SAN_FLAGS)
LDFLAGS  += $(SAN_FLAGS)
LDLIBS   :=
endif

NVCC := $(shell command -v nvcc 2>/dev/null)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)  # parallel compile jobs for `make test` and `make run`

# Library sources: every .cpp under the library folders (op files register themselves, so all
# objects are linked directly rather than through an archive that could drop them). The NCCL
# communicator is built per binary kind, below.
NCCL_SRC := nn/nccl_communicator.cpp
LIB_SRC  := $(filter-out $(NCCL_SRC),$(wildcard tensor/*.cpp tensor/ops/*.cpp autograd/*.cpp \
                       nn/*.cpp diffusion/*.cpp diffusion/app/*.cpp data/*.cpp))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/%.o)
ifneq ($(SANITIZE),)
STB_SRC  := tests/fuzz/stb_instrumented.cpp
LIB_OBJ  += $(BUILD)/tests/fuzz/stb_instrumented.o
$(BUILD)/tests/fuzz/stb_instrumented.o: CXXFLAGS += -w  # third-party code: its warnings are not ours
endif

# MPI, for data-parallel training across processes and machines (nn/communicator.h): found through Open MPI's
# compiler wrapper (another MPI: make MPI_CFLAGS=... MPI_LIBS=...). Without it `train` runs as
# one process. Only nn/mpi_communicator.cpp includes mpi.h; a stamp named after the detection
# rebuilds it when MPI appears or goes.
MPICC      ?= mpicc
MPI_CFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null)
MPI_LIBS   := $(shell $(MPICC) --showme:link 2>/dev/null)
MPI_STAMP  := $(BUILD)/config/mpi-$(if $(MPI_LIBS),on,off)
ifneq ($(MPI_LIBS),)
$(BUILD)/nn/mpi_communicator.o: CXXFLAGS += $(MPI_CFLAGS) -DMINDIFF_MPI
LDLIBS   += $(MPI_LIBS)
endif
$(BUILD)/nn/mpi_communicator.o: $(MPI_STAMP)
$(MPI_STAMP):
	@mkdir -p $(dir $@); rm -f $(BUILD)/config/mpi-*; touch $@

# The CUDA backend: one interface (tensor/device_backend.h and the _cuda launchers of cuda/<op>.h),
# three builds of it.
#   stub      cuda/stub.cpp: every entry point fails with "built without CUDA" (train, sample)
#   emulated  cuda/*.cu compiled by g++ for the emulator in cuda/emu/ (the test suite)
# Both take the NCCL communicator without NCCL (it fails with "this build has no NCCL").
CU_SRC   := $(wildcard cuda/*.cu)
NO_NCCL_OBJ := $(BUILD)/nn/nccl_communicator.o
STUB_OBJ := $(BUILD)/cuda/stub.o $(NO_NCCL_OBJ)
EMU_RUNTIME_OBJ := $(patsubst %.cpp,$(BUILD)/%.o,$(wildcard cuda/emu/*.cpp))
EMU_OBJ  := $(EMU_RUNTIME_OBJ) $(BUILD)/cuda/backend_emu.o $(BUILD)/cuda/caching_allocator.o \
            $(BUILD)/cuda/copy_counts.o $(BUILD)/cuda/staging_ring.o \
            $(CU_SRC:%.cu=$(BUILD)/emu/%.o) $(NO_NCCL_OBJ)
#   real      cuda/*.cu compiled by nvcc for sm_80 (A100) and sm_90 (H100), `make cuda`: the
#             binaries train_cuda, sample_cuda and $(BUILD)/mindiff_tests_cuda (which also keeps
#             the emulator, for the emulator's own tests)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCCFLAGS ?= -O3
NVCCFLAGS += -std=c++17 -I. -MMD -MP -Xcompiler -Wall,-Wextra \
             -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
NVCC_OBJ := $(CU_SRC:%.cu=$(BUILD)/nvcc/%.o)
CUDA_OBJ := $(NVCC_OBJ) $(BUILD)/nvcc/cuda/backend_cuda.o $(BUILD)/cuda/caching_allocator.o \
            $(BUILD)/cuda/copy_counts.o $(BUILD)/cuda/staging_ring.o
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread
#   with NCCL (nccl.h in the toolkit) the real NCCL communicator, for data-parallel training on GPUs
ifneq ($(wildcard $(CUDA_HOME)/include/nccl.h),)
CUDA_OBJ  += $(BUILD)/nvcc/nn/nccl_communicator.o
CUDA_LIBS += -lnccl -Wl,-rpath,$(CUDA_HOME)/lib64
else
CUDA_OBJ  += $(NO_NCCL_OBJ)
endif
CUDA_TARGETS := train_cuda sample_cuda $(BUILD)/mindiff_tests_cuda $(BUILD)/mindiff_cuda_bench
# `make test` sets NVCC_EXTRA to turn nvcc's and the host compiler's warnings into errors.
NVCC_EXTRA ?=
TEST_SRC := $(wildcard tests/*.cpp)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/%.o) $(BUILD)/tests/train_recipe.o
BENCH_SRC := $(wildcard bench/*.cpp)
BENCH_OBJ := $(BENCH_SRC:%.cpp=$(BUILD)/%.o)

# clang, libclang-rt-dev (libFuzzer and the sanitizer runtimes) and libomp-dev (OpenMP for
# clang) build the fuzz harnesses.
DEB_PACKAGES := libgtest-dev libstb-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin \
                clang libclang-rt-dev libomp-dev

.PHONY: all deps test check-layering bench bench-mpi bench-pytorch bench-pytorch-cuda run clean cuda cuda-bench cuda-traffic \
        cuda-status mpi-status fuzz fuzz-smoke fuzz-build test-sanitize sampler-thresholds
all: cuda-status mpi-status $(BIN)train $(BIN)sample

mpi-status:
ifeq ($(MPI_LIBS),)
	@echo "mindiff: MPI not found; train runs as one process (\`make deps\` installs Open MPI)"
else
	@echo "mindiff: MPI found ($(MPICC)); \`mpirun -np N ./train ...\` trains data-parallel"
endif

cuda-status:
ifeq ($(NVCC),)
	@echo "mindiff: nvcc not found; building the CPU backend only (CUDA calls fail with 'built without CUDA')"
else
	@echo "mindiff: nvcc found at $(NVCC); building the CPU binaries (\`make cuda\` builds train_cuda and sample_cuda)"
endif

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/nvcc/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $(NVCC_EXTRA) -c $< -o $@

$(BUILD)/nvcc/cuda/backend_cuda.o: cuda/backend_cuda.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -I$(CUDA_HOME)/include -c $< -o $@

# Host code only (NCCL's C API), but compiled by nvcc against the toolkit's nccl.h.
$(BUILD)/nvcc/$(NCCL_SRC:.cpp=.o): $(NCCL_SRC)
	@mkdir -p $(dir $@)
	$(NVCC) -O3 -std=c++17 -I. -MMD -MP -Xcompiler -Wall,-Wextra $(NVCC_EXTRA) -DMINDIFF_NCCL -c $< -o $@

# A .cu file as plain C++ for the emulator (cuda/kernel.h picks the emulated CUDA). Without
# contraction every a * b + c is rounded twice, as written: g++ would otherwise fuse some and
# not others, and kernel versions that sum in the same order would stop agreeing bit for bit.
$(BUILD)/emu/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -ffp-contract=off -x c++ -c $< -o $@

$(BIN)train: $(BUILD)/train.o $(LIB_OBJ) $(STUB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BIN)sample: $(BUILD)/sample.o $(LIB_OBJ) $(STUB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# train.cpp's recipe without its main, so the suite can train on the emulated GPU in-process.
$(BUILD)/tests/train_recipe.o: train.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -DMINDIFF_TRAIN_RECIPE_ONLY -c $< -o $@

$(BUILD)/mindiff_tests: $(TEST_OBJ) $(LIB_OBJ) $(EMU_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS) -lgtest -lpthread

$(BUILD)/mindiff_bench: $(BENCH_OBJ) $(LIB_OBJ) $(STUB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# One JSON line per benchmark case. BENCH_ARGS passes flags, e.g. BENCH_ARGS="--threads 1" or
# BENCH_ARGS="--case unet".
bench: $(BUILD)/mindiff_bench
	$(BUILD)/mindiff_bench $(BENCH_ARGS)

# Data-parallel training steps, one JSON line each: one process with 1 thread, one with 2 threads,
# then two processes with 1 thread each (BENCH_ARGS: --config, --batch, --steps).
MPIRUN ?= mpirun --oversubscribe $(if $(filter 0,$(shell id -u)),--allow-run-as-root)
$(BUILD)/mindiff_bench_mpi: $(BUILD)/bench/mpi/data_parallel_bench.o $(LIB_OBJ) $(STUB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

bench-mpi: $(BUILD)/mindiff_bench_mpi
ifeq ($(MPI_LIBS),)
	@echo "make bench-mpi: MPI not found (make deps installs Open MPI)"; exit 1
else
	$(BUILD)/mindiff_bench_mpi --threads 1 $(BENCH_ARGS)
	$(BUILD)/mindiff_bench_mpi --threads 2 $(BENCH_ARGS)
	$(MPIRUN) -np 2 $(BUILD)/mindiff_bench_mpi --threads 1 $(BENCH_ARGS)
endif

# The small U-Net against its PyTorch twin in one run (needs python3-torch; TWIN=folder of
# bench_twin.py, THREADS, ROUNDS).
TWIN ?= ../shared/reference
bench-pytorch: $(BUILD)/mindiff_bench
	BUILD=$(BUILD) bench/compare_pytorch.sh $(TWIN) $(or $(THREADS),2) $(or $(ROUNDS),3)

# The same comparison on a GPU, in fp32 and in tf32 (needs `make cuda`, a GPU and a CUDA build of
# PyTorch for $(PYTHON), default python3).
bench-pytorch-cuda: cuda
	BUILD=$(BUILD) bench/compare_pytorch_cuda.sh $(TWIN) $(or $(ROUNDS),3) $(or $(PYTHON),python3)

# The exact-versus-exact 95th percentiles behind the sampler acceptance tests and `sample --check`
# (diffusion/sample_check.h), computed once (a few minutes) into diffusion/sample_check_table.cpp,
# which is committed: rerun after changing a target or a statistic.
$(BUILD)/sampler_thresholds: $(BUILD)/tests/tools/sampler_thresholds.o $(LIB_OBJ) $(STUB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

sampler-thresholds: $(BUILD)/sampler_thresholds
	OMP_NUM_THREADS=$(JOBS) $(BUILD)/sampler_thresholds

# The real CUDA build (needs nvcc; runs on a machine with an sm_80+ GPU).
cuda:
ifeq ($(NVCC),)
	@echo "make cuda: nvcc not found (put the CUDA toolkit's bin/ on PATH)"; exit 1
else
	$(MAKE) $(CUDA_TARGETS)
endif

train_cuda: $(BUILD)/train.o $(LIB_OBJ) $(CUDA_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS) $(CUDA_LIBS)

sample_cuda: $(BUILD)/sample.o $(LIB_OBJ) $(CUDA_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS) $(CUDA_LIBS)

$(BUILD)/mindiff_tests_cuda: $(TEST_OBJ) $(LIB_OBJ) $(CUDA_OBJ) $(EMU_RUNTIME_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS) -lgtest -lpthread $(CUDA_LIBS)

# Kernel timings on the GPU, one JSON line per case (BENCH_ARGS=--quick for small sizes).
$(BUILD)/mindiff_cuda_bench: $(BUILD)/bench/cuda/cuda_bench.o $(BUILD)/bench/bench_unet.o $(LIB_OBJ) $(CUDA_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS) $(CUDA_LIBS)

cuda-bench: cuda
	$(BUILD)/mindiff_cuda_bench $(BENCH_ARGS)

# The same benchmark on the emulator: checks that it runs; its timings are the CPU's.
$(BUILD)/mindiff_cuda_bench_emu: $(BUILD)/bench/cuda/cuda_bench.o $(BUILD)/bench/bench_unet.o $(LIB_OBJ) $(EMU_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# What a U-Net training step asks of a GPU, counted on the CPU by the emulator: launches per
# kernel and shared-memory bank conflicts (cuda/emu/traffic.h), one JSON line each, fp32 and tf32.
$(BUILD)/mindiff_cuda_traffic: $(BUILD)/bench/cuda/traffic.o $(BUILD)/bench/bench_unet.o $(LIB_OBJ) $(EMU_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

cuda-traffic: $(BUILD)/mindiff_cuda_traffic
	OMP_NUM_THREADS=$(JOBS) $(BUILD)/mindiff_cuda_traffic --precision fp32 $(TRAFFIC_ARGS)
	OMP_NUM_THREADS=$(JOBS) $(BUILD)/mindiff_cuda_traffic --precision tf32 $(TRAFFIC_ARGS)

# Installs the Debian packages mindiff needs, saying which ones, only when they are missing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "mindiff deps: all present ($(DEB_PACKAGES))"; \
	else \
	  echo "mindiff deps: installing$$missing with apt-get"; \
	  sudo=""; [ "$$(id -u)" -ne 0 ] && sudo="sudo"; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# With nvcc present, `make test` (what CI runs) also builds everything `make cuda` builds, with
# nvcc's and the host compiler's warnings as errors: every .cu file must compile warning-free.
# The tests then also run ./train_cuda and ./sample_cuda (tests/test_cuda_frontends.cpp).
test: deps
ifeq ($(NVCC),)
	@echo "mindiff test: nvcc not found; the CUDA kernels are tested under the emulator only"
	$(MAKE) -j$(JOBS) train sample $(BUILD)/mindiff_tests
else
	@echo "mindiff test: nvcc found at $(NVCC); also compiling the CUDA build (make cuda) with warnings as errors"
	$(MAKE) -j$(JOBS) train sample $(BUILD)/mindiff_tests $(CUDA_TARGETS) \
	  NVCC_EXTRA="-Werror all-warnings -Xcompiler -Werror"
endif
	tests/check_layering.sh
	OMP_NUM_THREADS=2 $(BUILD)/mindiff_tests
	$(MAKE) fuzz-smoke

# Every include goes down the layers (the table is in the script; README's Folders mirrors it).
check-layering:
	tests/check_layering.sh

run: deps
	$(MAKE) -j$(JOBS) all
	./sample

# ---- Fuzzing: one libFuzzer harness per input format (tests/fuzz/fuzz_<format>.cpp, seeds in
# tests/fuzz/corpus/<format>/), built with clang, AddressSanitizer and UndefinedBehaviorSanitizer
# against the library objects they need (an archive: each harness links what it uses).
# tests/fuzz/run.sh runs them and reports executions, coverage and findings per harness.
CLANGXX       ?= clang++
FUZZ_BUILD    := build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_COVERAGE := -fsanitize=fuzzer-no-link
FUZZ_CXXFLAGS  = -std=c++17 -O1 -g -march=native -fopenmp -I. -MMD -MP -Wall -Wextra -Wno-pass-failed \
                 $(SAN_FLAGS) $(FUZZ_COVERAGE)
FUZZ_LIB_SRC  := $(wildcard tensor/*.cpp tensor/ops/*.cpp autograd/*.cpp nn/*.cpp data/*.cpp) \
                 diffusion/network.cpp diffusion/app/flags.cpp diffusion/app/classifier.cpp cuda/stub.cpp \
                 tests/fuzz/stb_instrumented.cpp
FUZZ_LIB_OBJ  := $(FUZZ_LIB_SRC:%.cpp=$(FUZZ_BUILD)/%.o)
FUZZ_HARNESS  := $(patsubst tests/fuzz/%.cpp,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.cpp))
# Whether clang links a libFuzzer program here (clang and libclang-rt-dev installed).
FUZZ_PROBE = mkdir -p $(FUZZ_BUILD) && printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' | $(CLANGXX) -x c++ -fsanitize=fuzzer - -o $(FUZZ_BUILD)/probe >/dev/null 2>&1
FUZZ_MISSING = mindiff fuzz: $(CLANGXX) with libFuzzer not found (make deps installs clang, libclang-rt-dev and libomp-dev)

$(FUZZ_BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CLANGXX) $(FUZZ_CXXFLAGS) -c $< -o $@

$(FUZZ_BUILD)/tests/fuzz/stb_instrumented.o: FUZZ_CXXFLAGS += -w  # third-party code
# The numeric code (tensor/, autograd/) keeps the sanitizers but not the coverage counters: the
# fuzzers look for paths through the readers, and counting every comparison in the random-number
# and kernel loops made building a network from a config line several times slower.
$(patsubst %.cpp,$(FUZZ_BUILD)/%.o,$(wildcard tensor/*.cpp tensor/ops/*.cpp autograd/*.cpp)): \
  FUZZ_COVERAGE :=

$(FUZZ_BUILD)/libmindiff.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# Kept after linking (make would delete them as intermediate files and recompile them next time).
.SECONDARY: $(patsubst tests/fuzz/%.cpp,$(FUZZ_BUILD)/tests/fuzz/%.o,$(wildcard tests/fuzz/fuzz_*.cpp)) \
            $(FUZZ_BUILD)/tests/fuzz/harness_init.o

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/tests/fuzz/harness_init.o \
                     $(FUZZ_BUILD)/libmindiff.a
	$(CLANGXX) $(SAN_FLAGS) -fsanitize=fuzzer -fopenmp $^ -o $@

fuzz-build:
	@if $(FUZZ_PROBE); then $(MAKE) -j$(JOBS) $(FUZZ_HARNESS); else echo "$(FUZZ_MISSING)"; exit 1; fi

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_HARNESS)

# A few seconds per harness: the seeds and some mutations, as part of `make test`.
fuzz-smoke:
	@if $(FUZZ_PROBE); then \
	  $(MAKE) -j$(JOBS) $(FUZZ_HARNESS) && tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_HARNESS); \
	else echo "$(FUZZ_MISSING); fuzz-smoke skipped"; fi

# ---- The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer (SANITIZE=1 above),
# the front-end tests running the sanitized train and sample (MINDIFF_BIN) and the emulated CUDA
# tests included. A report fails the run; tests/sanitize/lsan.supp names each suppression.
SAN_RUN_ENV := MINDIFF_BIN=build-sanitize/ OMP_NUM_THREADS=2 \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitize/lsan.supp:print_suppressions=0
test-sanitize: deps
	$(MAKE) -j$(JOBS) SANITIZE=1 build-sanitize/train build-sanitize/sample build-sanitize/mindiff_tests
	$(SAN_RUN_ENV) build-sanitize/mindiff_tests

clean:
	rm -rf $(BUILD) build-sanitize $(FUZZ_BUILD) train sample train_cuda sample_cuda

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(EMU_OBJ:.o=.d) $(STUB_OBJ:.o=.d) \
         $(CUDA_OBJ:.o=.d) $(BUILD)/bench/cuda/cuda_bench.d $(BUILD)/bench/cuda/traffic.d $(BUILD)/bench/mpi/data_parallel_bench.d \
         $(BUILD)/train.d $(BUILD)/sample.d $(BUILD)/tests/tools/sampler_thresholds.d \
         $(FUZZ_LIB_OBJ:.o=.d) $(wildcard $(FUZZ_BUILD)/tests/fuzz/*.d)
