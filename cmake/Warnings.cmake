# Flags shared by every target of the project.
add_library(mapet_flags INTERFACE)
target_compile_options(mapet_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -fno-math-errno>)
if(MAPET_NATIVE)
  target_compile_options(mapet_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
target_include_directories(mapet_flags INTERFACE ${PROJECT_SOURCE_DIR})
