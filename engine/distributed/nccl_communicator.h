// The NCCL backend: collectives on GPU buffers, one GPU per rank (the local
// rank's, modulo the devices this process sees), with NCCL's id shared over
// the MPI communicator that started the job (which it keeps, for the
// broadcast of the id and to end the job on an error). Host buffers are
// staged through the GPU, so every caller of a Communicator works unchanged.
// The communicator is non-blocking (NCCL's config.blocking = 0): setup and
// collectives are polled to the collective deadline, and a timeout calls
// ncclCommAbort before the job ends, so a dead peer cannot hang a kernel.
//
// Chosen with MAPET_DIST_BACKEND=nccl under mpirun / srun (MPI is the default:
// the CPU engine's tensors live in host memory).
#pragma once
#include <memory>

#include "engine/distributed/communicator.h"

namespace mapet::dist {

#ifdef MAPET_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> mpi);
#endif

}  // namespace mapet::dist
