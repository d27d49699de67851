// CUDA atomics and fences under g++. Threads of one block share an OS thread
// and never switch inside an atomic, so these only have to be atomic across
// blocks (different OS threads): std::atomic_ref, relaxed like CUDA's
// atomic* functions; the fences are real fences.
#pragma once
#include <atomic>
#include <cstdint>

namespace mapet::simt::detail {

template <class T>
std::atomic_ref<T> aref(T* p) {
  return std::atomic_ref<T>(*p);
}

template <class T, class F>
T atomic_update(T* p, F f) {  // CAS loop for the operations std::atomic lacks
  std::atomic_ref<T> a(*p);
  T old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, f(old), std::memory_order_relaxed)) {
  }
  return old;
}

}  // namespace mapet::simt::detail

#define MAPET_SIMT_ATOMIC_FETCH(NAME, T, FETCH) \
  inline T NAME(T* p, T v) { return mapet::simt::detail::aref(p).FETCH(v, std::memory_order_relaxed); }
MAPET_SIMT_ATOMIC_FETCH(atomicAdd, int, fetch_add)
MAPET_SIMT_ATOMIC_FETCH(atomicAdd, unsigned, fetch_add)
MAPET_SIMT_ATOMIC_FETCH(atomicAdd, unsigned long long, fetch_add)
MAPET_SIMT_ATOMIC_FETCH(atomicAdd, float, fetch_add)
MAPET_SIMT_ATOMIC_FETCH(atomicAdd, double, fetch_add)
MAPET_SIMT_ATOMIC_FETCH(atomicSub, int, fetch_sub)
MAPET_SIMT_ATOMIC_FETCH(atomicSub, unsigned, fetch_sub)
MAPET_SIMT_ATOMIC_FETCH(atomicAnd, int, fetch_and)
MAPET_SIMT_ATOMIC_FETCH(atomicAnd, unsigned, fetch_and)
MAPET_SIMT_ATOMIC_FETCH(atomicAnd, unsigned long long, fetch_and)
MAPET_SIMT_ATOMIC_FETCH(atomicOr, int, fetch_or)
MAPET_SIMT_ATOMIC_FETCH(atomicOr, unsigned, fetch_or)
MAPET_SIMT_ATOMIC_FETCH(atomicOr, unsigned long long, fetch_or)
MAPET_SIMT_ATOMIC_FETCH(atomicXor, int, fetch_xor)
MAPET_SIMT_ATOMIC_FETCH(atomicXor, unsigned, fetch_xor)
MAPET_SIMT_ATOMIC_FETCH(atomicXor, unsigned long long, fetch_xor)
MAPET_SIMT_ATOMIC_FETCH(atomicExch, int, exchange)
MAPET_SIMT_ATOMIC_FETCH(atomicExch, unsigned, exchange)
MAPET_SIMT_ATOMIC_FETCH(atomicExch, unsigned long long, exchange)
MAPET_SIMT_ATOMIC_FETCH(atomicExch, float, exchange)
#undef MAPET_SIMT_ATOMIC_FETCH

#define MAPET_SIMT_ATOMIC_MINMAX(T)                                                                      \
  inline T atomicMin(T* p, T v) {                                                                        \
    return mapet::simt::detail::atomic_update(p, [v](T old) { return v < old ? v : old; });              \
  }                                                                                                      \
  inline T atomicMax(T* p, T v) {                                                                        \
    return mapet::simt::detail::atomic_update(p, [v](T old) { return v > old ? v : old; });              \
  }
MAPET_SIMT_ATOMIC_MINMAX(int)
MAPET_SIMT_ATOMIC_MINMAX(unsigned)
MAPET_SIMT_ATOMIC_MINMAX(long long)
MAPET_SIMT_ATOMIC_MINMAX(unsigned long long)
#undef MAPET_SIMT_ATOMIC_MINMAX

#define MAPET_SIMT_ATOMIC_CAS(T)                                                                         \
  inline T atomicCAS(T* p, T compare, T v) {                                                             \
    mapet::simt::detail::aref(p).compare_exchange_strong(compare, v, std::memory_order_relaxed);         \
    return compare; /* the old value, whether or not it was swapped */                                   \
  }
MAPET_SIMT_ATOMIC_CAS(int)
MAPET_SIMT_ATOMIC_CAS(unsigned)
MAPET_SIMT_ATOMIC_CAS(unsigned long long)
MAPET_SIMT_ATOMIC_CAS(unsigned short)
#undef MAPET_SIMT_ATOMIC_CAS

// ((old >= v) ? 0 : old + 1) and ((old == 0 || old > v) ? v : old - 1), as CUDA defines them.
inline unsigned atomicInc(unsigned* p, unsigned v) {
  return mapet::simt::detail::atomic_update(p, [v](unsigned old) { return old >= v ? 0u : old + 1; });
}
inline unsigned atomicDec(unsigned* p, unsigned v) {
  return mapet::simt::detail::atomic_update(p, [v](unsigned old) { return old == 0 || old > v ? v : old - 1; });
}

inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
