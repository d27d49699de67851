// The block scheduler: runs one CUDA block's threads as fibers on the calling
// OS thread, and is where every synchronisation rule is checked.
//
// Rounds: the scheduler resumes each ready thread once, in the chosen order
// (config.h); a thread runs until it reaches __syncthreads, a warp collective
// or its end, then yields. A barrier completes when every live thread of the
// block has arrived; a warp collective completes when every lane named by its
// mask has arrived. Completion marks the waiters ready for the next round. A
// round in which no thread could run while some are still waiting is a
// deadlock. A kernel with no barriers is a single round: each thread runs to
// its end on a reused stack.
//
// Errors (KernelError) name the kernel, the block and the thread. Before one is
// thrown the block's suspended fibers are unwound (their destructors run), so a
// failed launch leaks nothing and the worker is ready for the next block.
#pragma once
#include <vector_types.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/simt/config.h"
#include "kernels/simt/fiber.h"

namespace mapet::simt {

// Every error the runtime detects: a bad launch configuration, a broken
// synchronisation rule, a fault in a kernel. what() names kernel, block, thread.
class KernelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

inline std::string site_str(const std::source_location& s) {
  const char* f = s.file_name();
  const char* slash = std::strrchr(f, '/');
  return std::string(slash ? slash + 1 : f) + ":" + std::to_string(s.line());
}

inline bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

// "(x,y,z)" (snprintf: GCC 12 warns falsely on "(" + std::to_string(...)).
inline std::string xyz(unsigned x, unsigned y, unsigned z) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "(%u,%u,%u)", x, y, z);
  return buf;
}

inline std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Thrown inside a fiber by a check the calling thread fails on its own
// (a misaligned cp.async, __trap); the scheduler adds kernel/block/thread.
struct LaneFault {
  std::string msg;
};

// Thrown by a warp collective's completion when one lane's operands are wrong.
struct WarpFault {
  uint32_t lane;
  std::string msg;
};

// Thrown into suspended fibers to unwind them when the block is aborted.
// Deliberately not a std::exception, so kernel code cannot catch it by accident.
struct Unwind {};

struct WarpRequest;
// Completes a collective for every lane of `mask`; lanes[l] is lane l's request.
using WarpFn = void (*)(WarpRequest* const* lanes, uint32_t mask);

// What one lane brings to a warp collective; lives on that lane's stack.
struct WarpRequest {
  WarpFn fn = nullptr;
  const char* name = "";
  uint32_t mask = 0;
  uint64_t value = 0;  // shuffled value, predicate, reduction operand
  int32_t arg = 0;     // source lane, delta or lane mask
  int32_t width = 32;
  const void* in[3] = {nullptr, nullptr, nullptr};  // fragments, addresses
  void* out = nullptr;
  uint64_t result = 0;
};

// One cp.async in flight: the source is read at issue, the destination is
// written only at the cp.async.wait that covers its group.
struct PendingCopy {
  void* dst;
  uint32_t group;  // kUncommitted until cp.async.commit_group
  uint32_t bytes;
  unsigned char data[16];
};
inline constexpr uint32_t kUncommitted = 0xffffffffu;

enum class ThreadState : uint8_t { not_started, ready, at_barrier, at_warp_op, exited, faulted };

// A fiber that runs CUDA threads one after another: when a thread ends, its
// carrier goes back to the pool and its next resume starts another thread, so
// a thread costs two switches and no fiber creation.
struct Carrier {
  fctx::fcontext_t ctx = nullptr;
  Stack stack;
  void* asan_fake = nullptr;
};

struct SimThread {
  Carrier* carrier = nullptr;  // while started
  uint3 idx{0, 0, 0};
  uint32_t linear = 0;
  ThreadState state = ThreadState::not_started;
  bool started = false;
  uint8_t bar_kind = 0;  // 0 __syncthreads, 1 _count, 2 _and, 3 _or
  int bar_pred = 0;
  int bar_result = 0;
  std::source_location site;  // where it waits
  WarpRequest* req = nullptr;
  std::vector<PendingCopy> copies;
  uint32_t next_group = 0;
  std::string fault;
};

// One launch as the workers see it.
struct LaunchInfo {
  const char* kernel = "";
  dim3 grid, block;
  size_t dynamic_smem = 0;
  uint32_t threads_per_block = 0;
  uint64_t blocks = 0;
  OrderPolicy order;
  void (*invoke)(const LaunchInfo&) = nullptr;  // runs the kernel for the current thread
  void* fn = nullptr;
  const void* params = nullptr;
};

inline constexpr const char* kBarrierNames[4] = {"__syncthreads", "__syncthreads_count", "__syncthreads_and",
                                                 "__syncthreads_or"};

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: seeds for the random order
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class BlockRunner;
inline thread_local BlockRunner* tls_runner = nullptr;
inline thread_local SimThread* tls_thread = nullptr;

class BlockRunner {
 public:
  BlockRunner() : stacks_(settings().stack_bytes) {}
  ~BlockRunner() {
    for (Carrier* c : carriers_) delete c;  // each is parked between threads; its stack is freed by stacks_
  }
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  // What threadIdx & co. read.
  uint3 block_idx{0, 0, 0};
  dim3 block_dim, grid_dim;
  unsigned char* dynamic_smem = nullptr;
  const LaunchInfo* launch = nullptr;
  bool in_block = false;

  void run(const LaunchInfo& L, uint64_t b) {
    begin(L, b);
    uint64_t round = 0;
    while (live_ > 0) {
      if (L.order.order == Order::random) shuffle_order(round);
      bool progressed = false;
      for (uint32_t i : order_) {
        SimThread& t = threads_[i];
        if (t.state != ThreadState::ready && t.state != ThreadState::not_started) continue;
        resume(t);
        progressed = true;
        after_yield(t);
      }
      if (!progressed) deadlock();
      ++round;
    }
    in_block = false;
  }

  // Fiber side: back to the scheduler until this thread may go on.
  void yield(SimThread& t) {
    switch_to_scheduler(*t.carrier);
    if (aborting_) throw Unwind{};
  }

  [[noreturn]] void fail(const SimThread& t, const std::string& msg) {
    throw_error("block " + dim_str(block_idx) + " thread " + dim_str(t.idx) + " [warp " + std::to_string(t.linear / 32) +
                " lane " + std::to_string(t.linear % 32) + "]: " + msg);
  }

  static std::string dim_str(uint3 d) { return xyz(d.x, d.y, d.z); }

  // The body of every carrier fiber: run a thread, report its end, wait for the next.
  static void carrier_main(fctx::transfer_t from) {
    BlockRunner* self = tls_runner;
    self->sched_ = from.fctx;
    AsanSwitch::finish(nullptr, &self->sched_bottom_, &self->sched_size_);
    SimThread* t = static_cast<SimThread*>(from.data);
    for (;;) {
      run_body(*t);
      t = static_cast<SimThread*>(self->switch_to_scheduler(*t->carrier));
    }
  }

 private:
  void* switch_to_scheduler(Carrier& c) {
    AsanSwitch::start(&c.asan_fake, sched_bottom_, sched_size_);
    fctx::transfer_t r = fctx::jump_fcontext(sched_, nullptr);
    AsanSwitch::finish(c.asan_fake, &sched_bottom_, &sched_size_);
    sched_ = r.fctx;
    return r.data;
  }

  Carrier* acquire_carrier() {
    if (!free_carriers_.empty()) {
      Carrier* c = free_carriers_.back();
      free_carriers_.pop_back();
      return c;
    }
    auto* c = new Carrier;
    carriers_.push_back(c);
    c->stack = stacks_.acquire();
    c->ctx = fctx::make_fcontext(c->stack.top(), c->stack.bytes, &carrier_main);
    return c;
  }

  void release_carrier(SimThread& t) {
    free_carriers_.push_back(t.carrier);
    t.carrier = nullptr;
    t.started = false;
  }

  struct WarpState {
    uint32_t exists = 0;   // lanes this block has
    uint32_t waiting = 0;  // lanes suspended at a collective
    uint32_t exited = 0;
    uint32_t expect[32];   // mask of the waiting group that names lane l, 0 if none
    uint8_t rep[32];       // first lane of that group
  };

  // Runs the kernel body for one thread; every exception stops here, since none
  // may cross the fiber's bottom frame.
  static __attribute__((noinline)) void run_body(SimThread& t) {
    try {
      tls_runner->launch->invoke(*tls_runner->launch);
      t.state = ThreadState::exited;
    } catch (const Unwind&) {
      t.state = ThreadState::exited;
    } catch (const LaneFault& f) {
      t.fault = f.msg;
      t.state = ThreadState::faulted;
    } catch (const std::exception& e) {
      t.fault = std::string("the kernel threw: ") + e.what();
      t.state = ThreadState::faulted;
    } catch (...) {
      t.fault = "the kernel threw an exception";
      t.state = ThreadState::faulted;
    }
  }

  void begin(const LaunchInfo& L, uint64_t b) {
    launch = &L;
    in_block = true;
    block_dim = L.block;
    grid_dim = L.grid;
    block_idx = uint3{static_cast<unsigned>(b % L.grid.x), static_cast<unsigned>(b / L.grid.x % L.grid.y),
                      static_cast<unsigned>(b / (uint64_t(L.grid.x) * L.grid.y))};
    block_linear_ = b;
    const uint32_t n = L.threads_per_block;
    if (threads_.size() < n) threads_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {  // the rest is set when a thread starts
      threads_[i].linear = i;
      threads_[i].state = ThreadState::not_started;
    }
    const uint32_t nwarps = (n + 31) / 32;
    warps_.assign(nwarps, WarpState{});
    for (uint32_t w = 0; w < nwarps; ++w) {
      const uint32_t lanes = std::min<uint32_t>(32, n - w * 32);
      warps_[w].exists = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
      std::memset(warps_[w].expect, 0, sizeof warps_[w].expect);
    }
    live_ = n;
    exited_ = 0;
    first_exited_ = nullptr;
    at_barrier_ = 0;
    barrier_count_ = 0;
    aborting_ = false;
    // Dynamic shared memory starts as NaN bytes (0xff), as uninitialised as it
    // is on a GPU but visibly so: a read before the first write shows up.
    if (L.dynamic_smem > smem_bytes_) {
      smem_.reset(static_cast<unsigned char*>(::operator new(L.dynamic_smem, std::align_val_t(128))));
      smem_bytes_ = L.dynamic_smem;
    }
    dynamic_smem = smem_.get();
    if (L.dynamic_smem) std::memset(dynamic_smem, 0xff, L.dynamic_smem);
    order_.resize(n);
    for (uint32_t i = 0; i < n; ++i) order_[i] = L.order.order == Order::reverse ? n - 1 - i : i;
  }

  void shuffle_order(uint64_t round) {
    uint64_t s = mix64(launch->order.seed ^ mix64(block_linear_ ^ mix64(round)));
    for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    for (uint32_t i = static_cast<uint32_t>(order_.size()); i > 1; --i) {
      s = mix64(s);
      std::swap(order_[i - 1], order_[s % i]);
    }
  }

  void resume(SimThread& t) {
    if (!t.started) {
      const uint32_t i = t.linear, bx = block_dim.x, by = block_dim.y;
      t.idx = uint3{i % bx, i / bx % by, i / (bx * by)};
      t.req = nullptr;
      t.next_group = 0;
      t.carrier = acquire_carrier();
      t.started = true;
    }
    t.state = ThreadState::ready;
    tls_thread = &t;
    Carrier& c = *t.carrier;
    void* fake = nullptr;
    AsanSwitch::start(&fake, c.stack.bottom, c.stack.bytes);
    fctx::transfer_t r = fctx::jump_fcontext(c.ctx, &t);
    AsanSwitch::finish(fake, nullptr, nullptr);
    c.ctx = r.fctx;
    tls_thread = nullptr;
  }

  void after_yield(SimThread& t) {
    switch (t.state) {
      case ThreadState::exited: return on_exit(t);
      case ThreadState::at_barrier: return on_barrier(t);
      case ThreadState::at_warp_op: return on_warp(t);
      case ThreadState::faulted: {
        release_carrier(t);
        fail(t, t.fault);
      }
      default: return;
    }
  }

  void on_exit(SimThread& t) {
    release_carrier(t);
    if (!t.copies.empty()) {  // copies nobody waited for still land (the GPU completes them too)
      for (const PendingCopy& c : t.copies) std::memcpy(c.dst, c.data, c.bytes);
      t.copies.clear();
    }
    --live_;
    ++exited_;
    if (first_exited_ == nullptr) first_exited_ = &t;
    if (at_barrier_ > 0) {
      fail(t, "divergent __syncthreads: this thread exited while " + std::to_string(at_barrier_) +
                  " thread(s) wait at " + std::string(kBarrierNames[barrier_kind_]) + " (" + site_str(barrier_site_) +
                  "), which every thread of the block must reach");
    }
    WarpState& w = warps_[t.linear / 32];
    const uint32_t lane = t.linear % 32;
    w.exited |= 1u << lane;
    if (w.expect[lane] != 0) {
      const SimThread& rep = threads_[t.linear / 32 * 32 + w.rep[lane]];
      fail(t, "this lane exited, but lane " + std::to_string(w.rep[lane]) + " waits for it at " + rep.req->name +
                  " (" + site_str(rep.site) + ") with mask " + hex32(w.expect[lane]));
    }
  }

  void on_barrier(SimThread& t) {
    if (at_barrier_ == 0) {
      barrier_site_ = t.site;
      barrier_kind_ = t.bar_kind;
      barrier_first_ = &t;
    } else if (!same_site(t.site, barrier_site_)) {
      fail(t, "divergent __syncthreads: this thread reached " + std::string(kBarrierNames[t.bar_kind]) + " at " +
                  site_str(t.site) + " while thread " + dim_str(barrier_first_->idx) + " waits at " +
                  kBarrierNames[barrier_kind_] + " at " + site_str(barrier_site_));
    }
    if (exited_ > 0) {
      fail(t, "divergent __syncthreads: this thread reached " + std::string(kBarrierNames[t.bar_kind]) + " at " +
                  site_str(t.site) + ", but thread " + dim_str(first_exited_->idx) +
                  " already exited without reaching it");
    }
    ++at_barrier_;
    barrier_count_ += t.bar_pred != 0;
    if (at_barrier_ < live_) return;
    const int count = static_cast<int>(barrier_count_);
    const int result = barrier_kind_ == 1   ? count
                       : barrier_kind_ == 2 ? int(count == static_cast<int>(live_))
                       : barrier_kind_ == 3 ? int(count > 0)
                                            : 0;
    const uint32_t n = launch->threads_per_block;
    for (uint32_t i = 0; i < n; ++i) {
      if (threads_[i].state == ThreadState::at_barrier) {
        threads_[i].state = ThreadState::ready;
        threads_[i].bar_result = result;
      }
    }
    at_barrier_ = 0;
    barrier_count_ = 0;
  }

  void on_warp(SimThread& t) {
    const uint32_t lane = t.linear % 32, base = t.linear / 32 * 32, bit = 1u << lane;
    WarpState& w = warps_[t.linear / 32];
    const WarpRequest& r = *t.req;
    const uint32_t m = r.mask;
    auto what = [&] { return std::string(r.name) + " at " + site_str(t.site) + " with mask " + hex32(m); };  // errors only
    if (!(m & bit)) fail(t, what() + ", which does not include the calling lane " + std::to_string(lane));
    if (m & ~w.exists) {
      fail(t, what() + " names lanes " + hex32(m & ~w.exists) + " that do not exist (the block has " +
                  std::to_string(launch->threads_per_block) + " threads)");
    }
    if (m & w.exited) fail(t, what() + " names lanes " + hex32(m & w.exited) + " that already exited");
    if (w.expect[lane] != 0) {
      const SimThread& rep = threads_[base + w.rep[lane]];
      if (w.expect[lane] != m) {
        fail(t, "warp masks disagree: this lane calls " + what() + " while lane " + std::to_string(w.rep[lane]) +
                    " waits at " + rep.req->name + " (" + site_str(rep.site) + ") with mask " + hex32(w.expect[lane]));
      }
      if (rep.req->fn != r.fn || !same_site(rep.site, t.site)) {
        fail(t, "the lanes of one mask are at different warp collectives: this lane at " + what() + ", lane " +
                    std::to_string(w.rep[lane]) + " at " + rep.req->name + " (" + site_str(rep.site) + ")");
      }
    } else {
      for (uint32_t rest = m; rest; rest &= rest - 1) {
        const uint32_t l = __builtin_ctz(rest);
        if (w.expect[l] != 0) {
          const SimThread& rep = threads_[base + w.rep[l]];
          fail(t, "warp masks disagree: this lane calls " + what() + " while lane " + std::to_string(w.rep[l]) +
                      " waits at " + rep.req->name + " (" + site_str(rep.site) + ") with mask " + hex32(w.expect[l]) +
                      "; both name lane " + std::to_string(l));
        }
      }
      for (uint32_t rest = m; rest; rest &= rest - 1) {
        const uint32_t l = __builtin_ctz(rest);
        w.expect[l] = m;
        w.rep[l] = static_cast<uint8_t>(lane);
      }
    }
    w.waiting |= bit;
    if ((w.waiting & m) != m) return;
    WarpRequest* lanes[32] = {};
    for (uint32_t rest = m; rest; rest &= rest - 1) lanes[__builtin_ctz(rest)] = threads_[base + __builtin_ctz(rest)].req;
    try {
      r.fn(lanes, m);
    } catch (const WarpFault& f) {
      fail(threads_[base + f.lane], std::string(r.name) + " at " + site_str(t.site) + ": " + f.msg);
    }
    for (uint32_t rest = m; rest; rest &= rest - 1) {
      const uint32_t l = __builtin_ctz(rest);
      threads_[base + l].state = ThreadState::ready;
      w.expect[l] = 0;
    }
    w.waiting &= ~m;
  }

  [[noreturn]] void deadlock() {
    std::string msg = "deadlock: every live thread waits and none can go on.";
    if (at_barrier_ > 0) {
      msg += " " + std::to_string(at_barrier_) + " thread(s) wait at " + kBarrierNames[barrier_kind_] + " (" +
             site_str(barrier_site_) + "), first thread " + dim_str(barrier_first_->idx) + ";";
    }
    for (uint32_t wi = 0; wi < warps_.size(); ++wi) {
      const WarpState& w = warps_[wi];
      uint32_t reported = 0;
      for (uint32_t rest = w.waiting; rest; rest &= rest - 1) {
        const uint32_t l = __builtin_ctz(rest);
        if (reported & (1u << l)) continue;
        const uint32_t m = w.expect[l];
        reported |= m;
        const SimThread& rep = threads_[wi * 32 + w.rep[l]];
        msg += " warp " + std::to_string(wi) + " lanes " + hex32(w.waiting & m) + " wait at " + rep.req->name + " (" +
               site_str(rep.site) + ") with mask " + hex32(m) + ", lanes " + hex32(m & ~w.waiting) +
               " of the mask never arrive (first waiting thread " + dim_str(rep.idx) + ");";
      }
    }
    throw_error("block " + dim_str(block_idx) + ": " + msg);
  }

  [[noreturn]] void throw_error(const std::string& msg) {
    abort_block();
    throw KernelError("mapet::simt: kernel '" + std::string(launch->kernel) + "' " + msg);
  }

  // Unwinds every suspended fiber (their yields throw Unwind) and frees stacks.
  void abort_block() {
    aborting_ = true;
    const uint32_t n = launch->threads_per_block;
    for (uint32_t i = 0; i < n; ++i) {
      SimThread& t = threads_[i];
      if (t.state == ThreadState::not_started) continue;
      while (t.started) {
        if (t.state == ThreadState::exited || t.state == ThreadState::faulted) {
          release_carrier(t);
          break;
        }
        resume(t);
      }
      t.copies.clear();
    }
    aborting_ = false;
    in_block = false;
  }

  StackPool stacks_;
  std::vector<Carrier*> carriers_, free_carriers_;
  std::vector<SimThread> threads_;
  std::vector<uint32_t> order_;
  std::vector<WarpState> warps_;
  struct SmemDelete {
    void operator()(unsigned char* p) const { ::operator delete(p, std::align_val_t(128)); }
  };
  std::unique_ptr<unsigned char, SmemDelete> smem_;
  size_t smem_bytes_ = 0;
  uint64_t block_linear_ = 0;
  uint32_t live_ = 0, exited_ = 0, at_barrier_ = 0, barrier_count_ = 0;
  uint8_t barrier_kind_ = 0;
  std::source_location barrier_site_;
  const SimThread* barrier_first_ = nullptr;
  const SimThread* first_exited_ = nullptr;
  bool aborting_ = false;
  fctx::fcontext_t sched_ = nullptr;
  const void* sched_bottom_ = nullptr;
  size_t sched_size_ = 0;
};

// The calling OS thread's runner, created on first use and kept (with its
// stacks and shared memory) for the next launch.
inline BlockRunner& this_runner() {
  thread_local std::unique_ptr<BlockRunner> runner;
  if (!runner) runner = std::make_unique<BlockRunner>();
  tls_runner = runner.get();
  return *runner;
}

inline SimThread& current_thread(const char* what) {
  SimThread* t = tls_thread;
  if (t == nullptr) throw std::logic_error(std::string(what) + " called outside a kernel running under mapet::simt");
  return *t;
}

// Fiber side of __syncthreads and its _count/_and/_or forms.
inline int barrier(uint8_t kind, int pred, const std::source_location& site) {
  SimThread& t = current_thread(kBarrierNames[kind]);
  t.state = ThreadState::at_barrier;
  t.bar_kind = kind;
  t.bar_pred = pred;
  t.site = site;
  tls_runner->yield(t);
  return t.bar_result;
}

// Fiber side of every warp collective: waits until the op has completed.
inline void warp_collective(WarpRequest& r, const std::source_location& site) {
  SimThread& t = current_thread(r.name);
  t.req = &r;
  t.site = site;
  t.state = ThreadState::at_warp_op;
  tls_runner->yield(t);
}

inline uint32_t lane_id() { return current_thread("%laneid").linear % 32; }

}  // namespace detail
}  // namespace mapet::simt
