// Data parallel in the training and evaluation commands (the gradients
// themselves: Trainer and dist::GradSync). Every function is a no-op in a
// world of one process.
#pragma once
#include <initializer_list>
#include <string>

#include "apps/train/checkpoint.h"
#include "apps/train/classifier.h"
#include "apps/train/trainer.h"
#include "engine/distributed/communicator.h"
#include "engine/rng.h"

namespace mapet::apps::train {

// Every rank continues from rank 0's state (a fresh start or what it resumed):
// the parameters, AdamW's moments and step, the run state (epoch, data
// position, schedule step) and the drop-path stream, of which rank r takes its
// own (dist::rank_seed) at the same offset.
void broadcast_start(dist::Communicator& comm, const nn::Module& model, Trainer& trainer, TrainState& st,
                     Generator& rng);

// The data position (batch of the epoch, per rank) at which a run of
// dist::world().size() ranks and `accum_steps` continues checkpoint `from`,
// saved by a run of another world size: the same optimizer step of the epoch,
// hence, with the same global batch (--total-batch), the same images next.
// Prints a note saying so.
int64_t position_for_world(const TrainState& st, int64_t accum_steps, int world, const std::string& from);

// Each value replaced by its mean over the ranks (per-rank means of equal
// shards: the mean over the global batch).
void average_over_ranks(dist::Communicator& comm, std::initializer_list<double*> values, const std::string& what);

// The sums of every rank's meter (each evaluated its own shard): exact counts,
// the summed loss, the longest time.
void reduce_over_ranks(dist::Communicator& comm, ClassifierMeter& m);

// " on 2 ranks" (mpi), or "" in one process: for the header lines.
std::string ranks_summary(const dist::Communicator& comm);

}  // namespace mapet::apps::train
