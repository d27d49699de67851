// The race check for tests: run the same work in forward, reverse and random
// thread order and require bit-identical results. A kernel whose output
// depends on the order its threads run in between two barriers has a race
// (typically a missing __syncthreads or __syncwarp): on a GPU it would be
// right most of the time and wrong some of the time.
#pragma once
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/simt/block.h"
#include "kernels/simt/config.h"

namespace mapet::simt {

namespace detail {

template <class T>
void require_same(const std::vector<T>& a, const std::vector<T>& b, const char* order, uint64_t seed) {
  static_assert(std::is_trivially_copyable_v<T>, "run_in_every_order compares results byte by byte");
  auto race = [&](const std::string& where) {
    throw KernelError(std::string("mapet::simt: results differ between forward and ") + order + " thread order" +
                      (std::strcmp(order, "random") == 0 ? " (seed " + std::to_string(seed) + ")" : "") + where +
                      ": the kernel has a race, most likely a missing __syncthreads or __syncwarp");
  };
  if (a.size() != b.size()) race(" in size (" + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + ")");
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) race(" first at element " + std::to_string(i));
}

template <class T>
void require_same(const T& a, const T& b, const char* order, uint64_t seed) {
  require_same(std::vector<T>{a}, std::vector<T>{b}, order, seed);
}

}  // namespace detail

// Runs `body` (which launches and returns what it computed: a std::vector of
// trivially copyable values, or one such value) once per thread order, and
// returns the forward result; throws KernelError naming the order and the
// first differing element when the results are not bit-for-bit equal. `body`
// must rebuild its inputs each time if the kernel writes them.
// Static __shared__ variables are thread_local storage of the worker threads
// and keep their contents from block to block and launch to launch; a run that
// read them before writing them would then tend to repeat the previous run's
// result. So while this runs, every launch runs its blocks on newly created
// OS threads, whose static shared memory starts as zeros each time.
template <class F>
auto run_in_every_order(F&& body, uint64_t seed = 1) {
  struct Fresh {
    bool saved = detail::settings().fresh_workers.exchange(true);
    ~Fresh() { detail::settings().fresh_workers = saved; }
  } fresh;
  decltype(body()) forward;
  {
    ScopedThreadOrder o(Order::forward);
    forward = body();
  }
  {
    ScopedThreadOrder o(Order::reverse);
    detail::require_same(forward, body(), "reverse", seed);
  }
  {
    ScopedThreadOrder o(Order::random, seed);
    detail::require_same(forward, body(), "random", seed);
  }
  return forward;
}

}  // namespace mapet::simt
