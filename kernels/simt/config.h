// Run-time settings of the SIMT runtime: the order in which a block's threads
// are run, how many OS threads run blocks, and the fiber stack size. Each has
// an environment variable, read once, so a whole test binary can be rerun in
// another order without recompiling; the setters override it.
//
//   MAPET_SIMT_ORDER      forward | reverse | random | random:SEED   (default forward)
//   MAPET_SIMT_THREADS    OS threads running blocks, caller included (default: cores)
//   MAPET_SIMT_STACK_KIB  stack per CUDA thread, KiB (default 128; 512 under ASan)
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace mapet::simt {

// The order in which the scheduler resumes a block's ready threads in each
// round (a round ends when every thread has reached a barrier, a warp
// collective or its end). forward: thread 0 first; reverse: last first;
// random: a fresh permutation per round, a function of (seed, block, round),
// so a run is reproducible. Blocks are handed to workers in the same order.
enum class Order : uint8_t { forward, reverse, random };

struct OrderPolicy {
  Order order = Order::forward;
  uint64_t seed = 0;
};

inline const char* to_string(Order o) {
  return o == Order::forward ? "forward" : o == Order::reverse ? "reverse" : "random";
}

namespace detail {

inline OrderPolicy parse_order(const char* text) {
  OrderPolicy p;
  if (text == nullptr || *text == 0 || std::strcmp(text, "forward") == 0) return p;
  if (std::strcmp(text, "reverse") == 0) {
    p.order = Order::reverse;
    return p;
  }
  if (std::strncmp(text, "random", 6) == 0 && (text[6] == 0 || text[6] == ':')) {
    p.order = Order::random;
    p.seed = text[6] == ':' ? std::strtoull(text + 7, nullptr, 10) : 1;
    return p;
  }
  throw std::invalid_argument(std::string("MAPET_SIMT_ORDER: expected forward, reverse, random or random:SEED, got '") +
                              text + "'");
}

inline int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == 0) return fallback;
  int n = std::atoi(v);
  if (n <= 0) throw std::invalid_argument(std::string(name) + ": expected a positive integer, got '" + v + "'");
  return n;
}

struct Settings {
  std::atomic<uint8_t> order{0};
  std::atomic<uint64_t> seed{0};
  std::atomic<int> workers{0};
  std::atomic<bool> fresh_workers{false};  // run_in_every_order: each launch on new OS threads
  size_t stack_bytes = 0;

  Settings() {
    OrderPolicy p = parse_order(std::getenv("MAPET_SIMT_ORDER"));
    order = static_cast<uint8_t>(p.order);
    seed = p.seed;
    int cores = static_cast<int>(std::thread::hardware_concurrency());
    workers = env_int("MAPET_SIMT_THREADS", cores > 0 ? cores : 1);
#if defined(__SANITIZE_ADDRESS__)
    constexpr int kDefaultStackKib = 512;  // ASan's redzones make frames several times larger
#else
    constexpr int kDefaultStackKib = 128;
#endif
    stack_bytes = static_cast<size_t>(env_int("MAPET_SIMT_STACK_KIB", kDefaultStackKib)) * 1024;
  }
};

inline Settings& settings() {
  static Settings s;
  return s;
}

}  // namespace detail

// Process-wide; a launch reads it when it starts.
inline void set_thread_order(Order order, uint64_t seed = 1) {
  detail::settings().seed = seed;
  detail::settings().order = static_cast<uint8_t>(order);
}

inline OrderPolicy thread_order() {
  return {static_cast<Order>(detail::settings().order.load()), detail::settings().seed.load()};
}

// OS threads that run blocks, the launching thread included (1: blocks run one
// after another on the caller, in the chosen order).
inline void set_worker_count(int n) {
  if (n < 1) throw std::invalid_argument("mapet::simt::set_worker_count: need at least 1");
  detail::settings().workers = n;
}

inline int worker_count() { return detail::settings().workers.load(); }

// Sets the order for one scope, then puts the previous one back.
class ScopedThreadOrder {
 public:
  explicit ScopedThreadOrder(Order order, uint64_t seed = 1) : saved_(thread_order()) { set_thread_order(order, seed); }
  ~ScopedThreadOrder() { set_thread_order(saved_.order, saved_.seed); }
  ScopedThreadOrder(const ScopedThreadOrder&) = delete;
  ScopedThreadOrder& operator=(const ScopedThreadOrder&) = delete;

 private:
  OrderPolicy saved_;
};

}  // namespace mapet::simt
