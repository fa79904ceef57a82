# mindiff build. `make` builds the library objects and the train/sample binaries (CPU, OpenMP);
# `make test` installs missing Debian packages, then builds and runs the GoogleTest suite.

CXX      ?= g++
CXXFLAGS ?= -O3 -march=native
# -fno-trapping-math: no code here relies on floating-point traps; it lets the vectoriser turn
# the selects of branch-free math (tensor/ops/vector_math.h) into blends. Values are unchanged.
CXXFLAGS += -std=c++17 -fopenmp -fno-trapping-math -Wall -Wextra -I. -MMD -MP
LDFLAGS  += -fopenmp
LDLIBS   := -lstb
BUILD    := build

NVCC := $(shell command -v nvcc 2>/dev/null)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)  # parallel compile jobs for `make test` and `make run`

# Library sources: every .cpp under the library folders (op files register themselves, so all
# objects are linked directly rather than through an archive that could drop them). The NCCL
# communicator is built per binary kind, below.
NCCL_SRC := cuda/nccl_communicator.cpp
LIB_SRC  := $(filter-out $(NCCL_SRC),$(wildcard tensor/*.cpp tensor/ops/*.cpp autograd/*.cpp \
                       nn/*.cpp diffusion/*.cpp data/*.cpp))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/%.o)

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

# The CUDA backend: one interface (cuda/backend.h and the _cuda launchers), three builds of it.
#   stub      cuda/stub.cpp: every entry point fails with "built without CUDA" (train, sample)
#   emulated  cuda/*.cu compiled by g++ for the emulator in cuda/emu/ (the test suite)
# Both take the NCCL communicator without NCCL (it fails with "this build has no NCCL").
CU_SRC   := $(wildcard cuda/*.cu)
NO_NCCL_OBJ := $(BUILD)/cuda/nccl_communicator.o
STUB_OBJ := $(BUILD)/cuda/stub.o $(NO_NCCL_OBJ)
EMU_RUNTIME_OBJ := $(patsubst %.cpp,$(BUILD)/%.o,$(wildcard cuda/emu/*.cpp))
EMU_OBJ  := $(EMU_RUNTIME_OBJ) $(BUILD)/cuda/backend_emu.o $(BUILD)/cuda/caching_allocator.o \
            $(CU_SRC:%.cu=$(BUILD)/emu/%.o) $(NO_NCCL_OBJ)
#   real      cuda/*.cu compiled by nvcc for sm_80 (A100) and sm_90 (H100), `make cuda`: the
#             binaries train_cuda, sample_cuda and $(BUILD)/mindiff_tests_cuda (which also keeps
#             the emulator, for the emulator's own tests)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCCFLAGS ?= -O3
NVCCFLAGS += -std=c++17 -I. -MMD -MP -Xcompiler -Wall,-Wextra \
             -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
NVCC_OBJ := $(CU_SRC:%.cu=$(BUILD)/nvcc/%.o)
CUDA_OBJ := $(NVCC_OBJ) $(BUILD)/nvcc/cuda/backend_cuda.o $(BUILD)/cuda/caching_allocator.o
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread
#   with NCCL (nccl.h in the toolkit) the real NCCL communicator, for data-parallel training on GPUs
ifneq ($(wildcard $(CUDA_HOME)/include/nccl.h),)
CUDA_OBJ  += $(BUILD)/nvcc/cuda/nccl_communicator.o
CUDA_LIBS += -lnccl -Wl,-rpath,$(CUDA_HOME)/lib64
else
CUDA_OBJ  += $(NO_NCCL_OBJ)
endif
CUDA_TARGETS := train_cuda sample_cuda $(BUILD)/mindiff_tests_cuda $(BUILD)/mindiff_cuda_bench
# `make test` sets NVCC_EXTRA to turn nvcc's and the host compiler's warnings into errors.
NVCC_EXTRA ?=
TEST_SRC := $(wildcard tests/*.cpp)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
BENCH_SRC := $(wildcard bench/*.cpp)
BENCH_OBJ := $(BENCH_SRC:%.cpp=$(BUILD)/%.o)

DEB_PACKAGES := libgtest-dev libstb-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin

.PHONY: all deps test bench bench-mpi bench-pytorch run clean cuda cuda-bench cuda-status mpi-status \
        sampler-thresholds
all: cuda-status mpi-status train sample

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

train: $(BUILD)/train.o $(LIB_OBJ) $(STUB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

sample: $(BUILD)/sample.o $(LIB_OBJ) $(STUB_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

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

# The exact-versus-exact 95th percentiles behind the sampler acceptance tests and `sample --check`
# (diffusion/sample_check.h), computed once (a few minutes) into diffusion/sample_check_table.cpp,
# which is committed: rerun after changing a target or a statistic.
$(BUILD)/sampler_thresholds: $(BUILD)/tools/sampler_thresholds.o $(LIB_OBJ) $(STUB_OBJ)
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
$(BUILD)/mindiff_cuda_bench: $(BUILD)/bench/cuda/cuda_bench.o $(LIB_OBJ) $(CUDA_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS) $(CUDA_LIBS)

cuda-bench: cuda
	$(BUILD)/mindiff_cuda_bench $(BENCH_ARGS)

# The same benchmark on the emulator: checks that it runs; its timings are the CPU's.
$(BUILD)/mindiff_cuda_bench_emu: $(BUILD)/bench/cuda/cuda_bench.o $(LIB_OBJ) $(EMU_OBJ)
	$(CXX) $^ -o $@ $(LDFLAGS) $(LDLIBS)

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
	OMP_NUM_THREADS=2 $(BUILD)/mindiff_tests

run: deps
	$(MAKE) -j$(JOBS) all
	./sample

clean:
	rm -rf $(BUILD) train sample train_cuda sample_cuda

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(EMU_OBJ:.o=.d) $(STUB_OBJ:.o=.d) \
         $(CUDA_OBJ:.o=.d) $(BUILD)/bench/cuda/cuda_bench.d $(BUILD)/bench/mpi/data_parallel_bench.d \
         $(BUILD)/train.d $(BUILD)/sample.d $(BUILD)/tools/sampler_thresholds.d
