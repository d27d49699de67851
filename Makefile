# Two commands: `make demo` and `make test`. Both install missing system
# packages, configure and build what they need, then run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
BENCH ?= OFF

.PHONY: all deps configure build demo study test bench cuda-check clean

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

# The paper's claim at demo scale: pre-train MaPeT, PeT and MIM, fine-tune each and a model from scratch on
# a labelled subset of Fashion-MNIST, and write the top-1 table (tools/study.sh; budgets via its variables).
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

clean:
	rm -rf $(BUILD) $(BUILD).configure.log
