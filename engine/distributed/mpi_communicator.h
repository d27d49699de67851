// The MPI backend (OpenMPI from Debian; any MPI-3 library works): nonblocking
// collectives (MPI_Iallreduce, MPI_Ibcast, MPI_Ibarrier) polled with MPI_Test
// to the collective deadline, on a duplicate of MPI_COMM_WORLD whose errors
// return to us (so they are reported with the rank and the collective) instead
// of killing the process mid-sentence. bf16 sums go through a user operation
// that adds in f32 and rounds to nearest even.
#pragma once
#include <memory>

#include "engine/distributed/communicator.h"

#ifdef MAPET_HAVE_MPI
#include <mpi.h>
#endif

namespace mapet::dist {

#ifdef MAPET_HAVE_MPI
// MPI_Init_thread (funneled: only the main thread calls MPI) and the communicator.
std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv);
void finalize_mpi();
// The communicator the MPI backend runs on (the NCCL backend shares its id over it).
MPI_Comm mpi_comm(const Communicator& c);
#endif

}  // namespace mapet::dist
