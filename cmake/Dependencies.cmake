# Third-party libraries. All come from Debian packages (see tools/install-deps.sh).
find_package(OpenMP REQUIRED)          # the one thread pool; oneDNN (Debian build) uses it too
find_package(dnnl CONFIG REQUIRED)     # GEMM (f32, bf16)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)  # CBLAS fallback GEMM
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)        # run configs (apps/train/config.h)
find_package(Threads REQUIRED)
find_package(faiss CONFIG REQUIRED)    # k-means for the tokenizers; the peer of the assignment kernel
find_package(Boost 1.74 CONFIG COMPONENTS context)  # fibers of the SIMT runtime (kernels/simt)

if(MAPET_TESTS)
  find_package(GTest REQUIRED)
endif()
if(MAPET_BENCH)
  find_package(benchmark REQUIRED)
endif()

set(MAPET_HAVE_CUDA OFF)
if(MAPET_CUDA)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES ${MAPET_CUDA_ARCHS})
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(MAPET_HAVE_CUDA ON)
    message(STATUS "mapet: CUDA backend ON (sm_${MAPET_CUDA_ARCHS})")
  else()
    message(STATUS "mapet: nvcc not found, CUDA backend OFF")
  endif()
endif()

# kernels/simt runs the CUDA kernels on the CPU. It needs Boost.Context and
# NVIDIA's headers (cuda_bf16.h & co., which compile with g++); not nvcc, not a GPU.
find_path(MAPET_CUDA_INCLUDE_DIR cuda_bf16.h
          HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include /usr/include)
if(Boost_context_FOUND AND MAPET_CUDA_INCLUDE_DIR)
  set(MAPET_HAVE_SIMT ON)
  message(STATUS "mapet: SIMT runtime ON (CUDA headers in ${MAPET_CUDA_INCLUDE_DIR})")
else()
  set(MAPET_HAVE_SIMT OFF)
  message(STATUS "mapet: SIMT runtime OFF (needs libboost-context-dev and the CUDA toolkit's headers)")
endif()

# Data-parallel training (engine/distributed): MPI on CPUs (OpenMPI from
# Debian: libopenmpi-dev, openmpi-bin), NCCL on GPUs (beside CUDA, its id shared
# over MPI). Without MPI the build still works; it then runs one process only.
set(MAPET_HAVE_MPI OFF)
find_package(MPI COMPONENTS C)
if(MPI_C_FOUND)
  set(MAPET_HAVE_MPI ON)
  message(STATUS "mapet: MPI ON (${MPIEXEC_EXECUTABLE})")
else()
  message(STATUS "mapet: MPI not found (libopenmpi-dev): single-process training only")
endif()
set(MAPET_HAVE_NCCL OFF)
if(MAPET_HAVE_CUDA AND MAPET_HAVE_MPI)
  find_path(MAPET_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  find_library(MAPET_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
  if(MAPET_NCCL_INCLUDE AND MAPET_NCCL_LIBRARY)
    set(MAPET_HAVE_NCCL ON)
    message(STATUS "mapet: NCCL ON (${MAPET_NCCL_LIBRARY})")
  endif()
endif()
