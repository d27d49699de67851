# Flags shared by every target of the project. -fno-trapping-math: without it
# GCC keeps the branch-free clamps of common::fast_exp scalar, and every loop
# over exp (GELU, softmax, attention) runs at a sixteenth of its speed.
add_library(mapet_flags INTERFACE)
target_compile_options(mapet_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -fno-math-errno -fno-trapping-math>)
# Off by default: a binary built on one CPU must run on every x86-64 CPU. The
# kernels that need the wide instruction sets pick them at run time (cmake/Isa.cmake);
# they override -march per level, which is why it goes first on the command line.
if(MAPET_NATIVE)
  string(APPEND CMAKE_CXX_FLAGS " -march=native")
endif()
target_include_directories(mapet_flags INTERFACE ${PROJECT_SOURCE_DIR})
