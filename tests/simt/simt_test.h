// Shared by the SIMT runtime's tests: expecting a KernelError with given words.
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "kernels/cuda/dialect.cuh"

// Runs `fn`, which must throw mapet::simt::KernelError whose message contains
// every one of `words`; returns the message (empty on failure).
template <class F>
std::string expect_kernel_error(F&& fn, std::initializer_list<const char*> words) {
  try {
    fn();
  } catch (const mapet::simt::KernelError& e) {
    const std::string msg = e.what();
    for (const char* w : words) EXPECT_NE(msg.find(w), std::string::npos) << "missing '" << w << "' in: " << msg;
    return msg;
  }
  ADD_FAILURE() << "expected a mapet::simt::KernelError";
  return {};
}
