// Fibers for CUDA threads: stacks and the context switch.
//
// The switch is Boost.Context's fcontext (make_fcontext / jump_fcontext, the
// assembly under boost::context::fiber). Measured on this machine: a
// switch there and back costs about 30 ns through fcontext, 45 ns through
// boost::context::fiber (which moves a fiber object through every resume),
// and starting a fiber that runs to its end 40 ns against 95 ns; glibc's
// ucontext saves the signal mask with a system call on every switch.
//
// Stacks are mmap'ed once per worker thread and reused (LIFO, so a kernel
// without barriers runs every thread on the same, cache-hot stack). Each has a
// PROT_NONE guard page below it: an overflow is a SIGSEGV, not silent
// corruption. Pages are touched only as a fiber grows into them, so a large
// stack costs address space, not memory. Stack tops are staggered by a few
// cache lines so that the hot top frames of many fibers do not all fall into
// the same L1 sets.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define MAPET_SIMT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAPET_SIMT_ASAN 1
#endif
#endif

#if defined(MAPET_SIMT_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace mapet::simt::detail {

namespace fctx = boost::context::detail;

struct Stack {
  char* mapping = nullptr;  // guard page + usable stack
  size_t mapping_bytes = 0;
  char* bottom = nullptr;   // lowest usable byte
  size_t bytes = 0;         // usable bytes below top
  char* top() const { return bottom + bytes; }
};

class StackPool {
 public:
  explicit StackPool(size_t bytes) : bytes_(bytes) {}
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() {
    for (Stack& s : all_) munmap(s.mapping, s.mapping_bytes);
  }

  Stack acquire() {
    if (!free_.empty()) {
      Stack s = free_.back();
      free_.pop_back();
      return s;
    }
    return make();
  }
  void release(const Stack& s) { free_.push_back(s); }

 private:
  Stack make() {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t usable = (bytes_ + page - 1) / page * page;
    Stack s;
    s.mapping_bytes = usable + page;
    void* p = mmap(nullptr, s.mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    s.mapping = static_cast<char*>(p);
    mprotect(s.mapping, page, PROT_NONE);  // guard page: the stack grows down into it
    // Stagger tops by 0..15 x 320 bytes (5 cache lines): different L1 sets.
    const size_t stagger = (all_.size() % 16) * 320;
    s.bottom = s.mapping + page;
    s.bytes = usable - stagger;
    all_.push_back(s);
    return s;
  }

  size_t bytes_;
  std::vector<Stack> all_;
  std::vector<Stack> free_;
};

// ASan must be told about every switch between stacks, or it reports false
// stack-buffer overflows and loses track of fake stacks. The calls wrap each
// jump: start_switch before it (naming the stack we go to), finish_switch
// right after we are back on a stack.
struct AsanSwitch {
#if defined(MAPET_SIMT_ASAN)
  static void start(void** fake_save, const void* bottom, size_t size) {
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
  }
  static void finish(void* fake, const void** old_bottom, size_t* old_size) {
    __sanitizer_finish_switch_fiber(fake, old_bottom, old_size);
  }
#else
  static void start(void**, const void*, size_t) {}
  static void finish(void*, const void**, size_t*) {}
#endif
};

}  // namespace mapet::simt::detail
