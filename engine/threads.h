// The one CPU thread pool: OpenMP's, which oneDNN (Debian's build) also runs on.
#pragma once

namespace mapet {

int num_threads();
// n <= 0: one per core. Also keeps OpenBLAS from starting threads of its own.
void set_num_threads(int n);
// Reads MAPET_THREADS (or OMP_NUM_THREADS) once; call at program start.
void init_threads_from_env();

}  // namespace mapet
