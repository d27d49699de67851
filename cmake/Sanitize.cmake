# Sanitizer and fuzzing builds (Makefile: test-sanitize, test-tsan, fuzz). Each
# gets its own build folder: the flags apply to every target, libraries included.
#   MAPET_SANITIZE=address,undefined   ASan + UBSan (any UB aborts the test)
#   MAPET_SANITIZE=thread              TSan
#   MAPET_FUZZ=ON                      libFuzzer targets in tests/fuzz (clang only), with coverage
#                                      instrumentation in every library
set(MAPET_SANITIZE "" CACHE STRING "Sanitizers for every target (e.g. address,undefined or thread)")
option(MAPET_FUZZ "Build the libFuzzer targets of tests/fuzz (needs clang)" OFF)

if((MAPET_SANITIZE OR MAPET_FUZZ) AND MAPET_HAVE_CUDA)
  message(FATAL_ERROR "sanitizer and fuzzing builds are CPU-only: configure with -DMAPET_CUDA=OFF")
endif()
if(MAPET_SANITIZE)
  add_compile_options(-fsanitize=${MAPET_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MAPET_SANITIZE})
  # A test that runs long can scale down under a sanitizer (#if MAPET_SANITIZED) rather than time out.
  add_compile_definitions(MAPET_SANITIZED=1)
endif()
if(MAPET_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MAPET_FUZZ needs clang (libFuzzer): configure with CC=clang CXX=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
