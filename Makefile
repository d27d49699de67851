# Two commands: `make demo` and `make test`. Both install missing system
# packages, configure and build what they need, then run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
BENCH ?= OFF

.PHONY: all deps configure build demo study test bench cuda-check clean test-sanitize test-tsan fuzz

all: build

deps:
	@bash tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAPET_BENCH=$(BENCH) $(CMAKE_FLAGS) > $(BUILD).configure.log 2>&1 \
	  || (cat $(BUILD).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# MaPeT pre-training on Fashion-MNIST (real photos of clothing): prepare the
# JPEGs, tokenize them, pre-train with live progress (tools/demo.sh).
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target mapet
	@bash tools/demo.sh $(BUILD)/apps/mapet

# The paper's claim at demo scale: pre-train MaPeT, PeT and MIM over SEEDS seeds, fine-tune and linear-probe
# each and a model from scratch on a labelled subset of Fashion-MNIST, and write mean +- std per arm
# (tools/study.sh; budgets via its variables, e.g. make study SEEDS=5 PRE_EPOCHS=2).
study: configure
	@cmake --build $(BUILD) -j $(JOBS) --target mapet
	@bash tools/study.sh $(BUILD)/apps/mapet

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Every CUDA kernel built for sm_80 and sm_90a, with the static checks (registers, spills, HMMA).
cuda-check: deps
	@cmake -S . -B $(BUILD)-cuda-check -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAPET_TESTS=OFF -DMAPET_BENCH=OFF \
	  -DMAPET_CUDA_ARCHS=80 -DCMAKE_CUDA_FLAGS="-gencode arch=compute_90a,code=sm_90a" > $(BUILD)-cuda-check.configure.log 2>&1 \
	  || (cat $(BUILD)-cuda-check.configure.log; exit 1)
	@cmake --build $(BUILD)-cuda-check -j $(JOBS) --target mapet_kernels_cuda
	@bash tools/cuda_static_check.sh $(BUILD)-cuda-check/kernels/libmapet_kernels_cuda.a

bench:
	@$(MAKE) build BENCH=ON

# The test suite under ASan + UBSan (any error aborts the test), in its own build folder. CI runs a
# part: SANITIZE_TARGETS / SANITIZE_TESTS (a ctest -L regex) narrow it; the defaults are everything.
SANITIZE_BUILD ?= build-asan
SANITIZE_TARGETS ?= all
SANITIZE_TESTS ?= .
SANITIZE_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 MAPET_THREADS=2
test-sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAPET_SANITIZE=address,undefined \
	  -DMAPET_CUDA=OFF -DMAPET_BENCH=OFF $(CMAKE_FLAGS) > $(SANITIZE_BUILD).configure.log 2>&1 \
	  || (cat $(SANITIZE_BUILD).configure.log; exit 1)
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target $(SANITIZE_TARGETS)
	@cd $(SANITIZE_BUILD) && $(SANITIZE_ENV) ctest --output-on-failure -j $(JOBS) -L '$(SANITIZE_TESTS)'

# The data loader and the thread pool under TSan (clang and its OpenMP runtime, which TSan understands):
# tests/CMakeLists.txt builds their tests as one binary, tsan_tests.
TSAN_BUILD ?= build-tsan
test-tsan: deps
	@CC=clang CXX=clang++ cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAPET_SANITIZE=thread \
	  -DMAPET_CUDA=OFF -DMAPET_BENCH=OFF $(CMAKE_FLAGS) > $(TSAN_BUILD).configure.log 2>&1 \
	  || (cat $(TSAN_BUILD).configure.log; exit 1)
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target tsan_tests
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 MAPET_THREADS=4 $(TSAN_BUILD)/tests/tsan_tests

# libFuzzer targets, one per parser (tests/fuzz), with ASan + UBSan: FUZZ_SECONDS each, seeds from the build.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAPET_FUZZ=ON \
	  -DMAPET_SANITIZE=address,undefined -DMAPET_CUDA=OFF -DMAPET_BENCH=OFF -DMAPET_TESTS=OFF $(CMAKE_FLAGS) \
	  > $(FUZZ_BUILD).configure.log 2>&1 || (cat $(FUZZ_BUILD).configure.log; exit 1)
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all
	@bash tools/fuzz.sh $(FUZZ_BUILD)/tests/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD).configure.log
