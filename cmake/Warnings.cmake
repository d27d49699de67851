# Flags shared by every target of the project. -fno-trapping-math: without it
# GCC keeps the branch-free clamps of common::fast_exp scalar, and every loop
# over exp (GELU, softmax, attention) runs at a sixteenth of its speed.
add_library(mapet_flags INTERFACE)
target_compile_options(mapet_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -fno-math-errno -fno-trapping-math>)
if(MAPET_NATIVE)
  target_compile_options(mapet_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
target_include_directories(mapet_flags INTERFACE ${PROJECT_SOURCE_DIR})
