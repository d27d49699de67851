// make_nccl_communicator in a program linked against the simt backend (MAPET_CUDA_SIM, e.g. mapet-sim):
// no NCCL there (its CUDA runtime API is kernels/simt's, its device memory host memory), so
// MAPET_DIST_BACKEND=nccl ends the job saying so; MPI (the default) carries its collectives.
#include "engine/distributed/nccl_communicator.h"

namespace mapet::dist {

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> mpi) {
  mpi->abort("MAPET_DIST_BACKEND=nccl: this program is the SIMT build (mapet-sim: Device::cuda in host memory), "
             "which has no NCCL; use MAPET_DIST_BACKEND=mpi (the default)");
}

}  // namespace mapet::dist
