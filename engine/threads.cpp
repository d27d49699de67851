#include "engine/threads.h"

#include <omp.h>

#include <cstdlib>
#include <thread>

extern "C" void openblas_set_num_threads(int);

namespace mapet {

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  omp_set_num_threads(n);
  openblas_set_num_threads(1);
}

void init_threads_from_env() {
  const char* s = std::getenv("MAPET_THREADS");
  if (s && *s) set_num_threads(std::atoi(s));
  else openblas_set_num_threads(1);
}

}  // namespace mapet
