// Launching a grid: the configuration checks a GPU makes (plus some it does
// not make visibly), then the blocks, in parallel on a small pool of OS
// threads. A launch is synchronous: when launch() returns every block has run,
// so stream order is trivially kept.
//
// The pool: std::threads of its own (not OpenMP), so a launch from inside an
// OpenMP parallel region, or from several host threads at once, cannot
// deadlock: the launching thread always runs blocks of its own launch, and
// idle pool threads join whichever launch has blocks left.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "kernels/simt/block.h"

namespace mapet::simt {

inline constexpr uint32_t kMaxThreadsPerBlock = 1024;
// sm_90: a block may use up to 227 KiB of shared memory, but dynamic shared
// memory above 48 KiB only after cudaFuncSetAttribute(kernel,
// cudaFuncAttributeMaxDynamicSharedMemorySize, bytes): a launch without it fails.
inline constexpr size_t kMaxSharedBytes = 227 * 1024;
inline constexpr size_t kDefaultMaxDynamicSharedBytes = 48 * 1024;

namespace detail {

// Kernels that opted in to more than 48 KiB of dynamic shared memory.
struct SmemOptIns {
  std::mutex m;
  std::unordered_map<const void*, size_t> bytes;
};
inline SmemOptIns& smem_opt_ins() {
  static SmemOptIns s;
  return s;
}

inline std::string dims(const dim3& d) { return xyz(d.x, d.y, d.z); }

inline void check_config(const char* name, const void* fn, dim3 grid, dim3 block, size_t smem) {
  auto bad = [&](const std::string& msg) { throw KernelError("mapet::simt: kernel '" + std::string(name) + "': " + msg); };
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) bad("gridDim " + dims(grid) + " has a zero dimension (an empty launch)");
  if (threads == 0) bad("blockDim " + dims(block) + " has a zero dimension");
  if (block.x > 1024 || block.y > 1024 || block.z > 64 || threads > kMaxThreadsPerBlock) {
    bad("blockDim " + dims(block) + " = " + std::to_string(threads) +
        " threads; CUDA allows at most 1024 threads per block (x, y <= 1024, z <= 64)");
  }
  if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    bad("gridDim " + dims(grid) + " is out of range (x < 2^31, y and z <= 65535)");
  }
  if (smem > kMaxSharedBytes) {
    bad(std::to_string(smem) + " bytes of dynamic shared memory; sm_90 allows at most " +
        std::to_string(kMaxSharedBytes) + " (227 KiB) per block, static shared memory included");
  }
  if (smem > kDefaultMaxDynamicSharedBytes) {
    std::lock_guard<std::mutex> lock(smem_opt_ins().m);
    auto it = smem_opt_ins().bytes.find(fn);
    const size_t allowed = it == smem_opt_ins().bytes.end() ? kDefaultMaxDynamicSharedBytes : it->second;
    if (smem > allowed) {
      bad(std::to_string(smem) + " bytes of dynamic shared memory, above the " + std::to_string(allowed) +
          " this kernel allows; over 48 KiB needs MAPET_SET_MAX_DYNAMIC_SMEM(kernel, bytes) first, or a GPU refuses "
          "the launch");
    }
  }
}

// Maps the i-th block handed out to a block index: forward, reverse, or a
// seeded affine permutation (a*i + c) mod n with gcd(a, n) = 1.
struct BlockOrder {
  Order order;
  uint64_t n, a = 1, c = 0;
  BlockOrder(const OrderPolicy& p, uint64_t blocks) : order(p.order), n(blocks) {
    if (order != Order::random || n < 2) return;
    uint64_t s = mix64(p.seed ^ 0x5eedb10c);
    a = 1 + s % (n - 1);
    while (std::gcd(a, n) != 1) a = a % (n - 1) + 1;  // walks 1..n-1; a = 1 always qualifies
    c = mix64(s) % n;
  }
  uint64_t operator()(uint64_t i) const {
    if (order == Order::forward) return i;
    if (order == Order::reverse) return n - 1 - i;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * i + c) % n);
  }
};

struct Job {
  const LaunchInfo* launch;
  BlockOrder order;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  int helpers = 0;      // pool threads working on it (under Pool::m)
  int max_helpers = 0;
  std::mutex error_m;
  std::exception_ptr error;
  uint64_t error_at = ~0ull;  // the earliest failing block, in hand-out order

  Job(const LaunchInfo& L, int max_help) : launch(&L), order(L.order, L.blocks), max_helpers(max_help) {}
  bool has_work() const { return !stop.load() && next.load() < launch->blocks; }

  void work() {
    BlockRunner& runner = this_runner();
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) return;
      const uint64_t i = next.fetch_add(1);
      if (i >= launch->blocks) return;
      try {
        runner.run(*launch, order(i));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_m);
        if (i < error_at) {
          error_at = i;
          error = std::current_exception();
        }
        stop = true;
      }
    }
  }
};

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      quit_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  void run(Job& job) {
    const bool help = job.max_helpers > 0 && job.launch->blocks > 1;
    if (help) {
      std::lock_guard<std::mutex> lock(m_);
      while (static_cast<int>(threads_.size()) < job.max_helpers) threads_.emplace_back([this] { loop(); });
      jobs_.push_back(&job);
    }
    if (help) wake_.notify_all();
    job.work();
    if (help) {
      std::unique_lock<std::mutex> lock(m_);
      jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &job));
      done_.wait(lock, [&] { return job.helpers == 0; });
    }
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  Job* pick() {
    for (Job* j : jobs_)
      if (j->helpers < j->max_helpers && j->has_work()) return j;
    return nullptr;
  }

  void loop() {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      Job* j = nullptr;
      wake_.wait(lock, [&] { return quit_ || (j = pick()) != nullptr; });
      if (quit_) return;
      ++j->helpers;
      lock.unlock();
      j->work();
      lock.lock();
      if (--j->helpers == 0) done_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable wake_, done_;
  std::deque<Job*> jobs_;
  std::vector<std::thread> threads_;
  bool quit_ = false;
};

inline Pool& pool() {
  static Pool p;
  return p;
}

inline void run_grid(const LaunchInfo& L) {
  if (tls_runner != nullptr && tls_runner->in_block) {
    throw KernelError("mapet::simt: kernel '" + std::string(L.kernel) +
                      "' launched from inside a kernel (dynamic parallelism is not supported)");
  }
  if (settings().fresh_workers.load()) {
    // New OS threads start with zeroed thread_local storage, so every run of
    // run_in_every_order sees the same static __shared__ contents (zeros)
    // instead of what the previous run left there.
    Job job(L, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < worker_count(); ++i) threads.emplace_back([&job] { job.work(); });
    for (std::thread& t : threads) t.join();
    if (job.error) std::rethrow_exception(job.error);
    return;
  }
  Job job(L, worker_count() - 1);
  pool().run(job);
}

template <class... P>
struct Invoker {
  using Params = std::tuple<std::decay_t<P>...>;
  static void invoke(const LaunchInfo& L) {
    auto kernel = reinterpret_cast<void (*)(P...)>(L.fn);
    std::apply(kernel, *static_cast<const Params*>(L.params));  // each thread gets its own copies
  }
};

}  // namespace detail

// The simt side of MAPET_LAUNCH. Arguments convert to the kernel's parameter
// types as in a <<<>>> launch. The stream is accepted and ignored: the launch
// has finished when this returns. Throws KernelError on any detected bug.
template <class... P, class Stream, class... A>
void launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t dynamic_smem, Stream&&,
            A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "MAPET_LAUNCH: wrong number of kernel arguments");
  const void* fn = reinterpret_cast<const void*>(kernel);
  detail::check_config(name, fn, grid, block, dynamic_smem);
  typename detail::Invoker<P...>::Params params(std::forward<A>(args)...);
  detail::LaunchInfo L;
  L.kernel = name;
  L.grid = grid;
  L.block = block;
  L.dynamic_smem = dynamic_smem;
  L.threads_per_block = block.x * block.y * block.z;
  L.blocks = uint64_t(grid.x) * grid.y * grid.z;
  L.order = thread_order();
  L.invoke = &detail::Invoker<P...>::invoke;
  L.fn = reinterpret_cast<void*>(kernel);
  L.params = &params;
  detail::run_grid(L);
}

// The simt side of MAPET_SET_MAX_DYNAMIC_SMEM (cudaFuncSetAttribute(kernel,
// cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) on a GPU).
template <class... P>
void set_max_dynamic_smem(const char* name, void (*kernel)(P...), size_t bytes) {
  if (bytes > kMaxSharedBytes) {
    throw KernelError("mapet::simt: kernel '" + std::string(name) + "': cannot allow " + std::to_string(bytes) +
                      " bytes of dynamic shared memory; sm_90 has at most " + std::to_string(kMaxSharedBytes));
  }
  std::lock_guard<std::mutex> lock(detail::smem_opt_ins().m);
  detail::smem_opt_ins().bytes[reinterpret_cast<const void*>(kernel)] = bytes;
}

}  // namespace mapet::simt
