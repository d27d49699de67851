// Loader: decodes and transforms a dataset into batches on a pool of worker
// threads, a bounded number of batches ahead of training.
//
// - Deterministic: sample k of an epoch is transformed with draws keyed by
//   (seed, epoch, dataset index), the order comes from (seed, epoch); nothing
//   depends on the number of workers or on timing.
// - Resumable: start_epoch(epoch, position) continues at batch `position`,
//   giving exactly the batches an uninterrupted run would have given.
// - Sharded: rank r of n reads a disjoint shard (see sampler.h).
// - Bounded memory: at most `prefetch` batches are being filled or waiting.
// - Bad files: a file that is truncated, empty, not a JPEG or unreadable is
//   reported once (with its path and the reason) on stderr, counted, and its
//   slot takes the next good sample of the shard, with that sample's own label.
//   With strict, next() throws the Error instead. The end of each epoch prints
//   how many were skipped.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/token_store.h"
#include "data/transforms.h"
#include "engine/tensor.h"

namespace mapet::data {

inline constexpr int kMaxWorkers = 256;

struct LoaderOptions {
  int batch_size = 64;
  Mode mode = Mode::train;
  TransformConfig transform;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = true;
  int rank = 0, world = 1;
  bool even_shards = true;      // see sampler.h; false for evaluation
  int workers = 0;              // decode threads; 0: one per core; at most kMaxWorkers
  int prefetch = 4;             // batches in flight (filling or ready)
  bool strict = false;          // a bad file stops the run
  bool quiet = false;           // no messages on stderr (tests)
  const TokenStore* tokens = nullptr;  // visual tokens, checked against the dataset
};

struct Batch {
  Tensor images;  // f32 [B, 3, size, size], normalised
  Tensor labels;  // i64 [B]
  Tensor tokens;  // i64 [B, P] when a token store is attached, else undefined
  Tensor seeds;   // i64 [B]: per-sample seed for the MaPeT permutation sampler
  std::vector<int64_t> indices;  // dataset index of each sample (after replacement of bad files)
  std::vector<View> views;       // crop box and flip of each sample, in original pixels
  int64_t epoch = 0, position = 0;  // batch `position` of `epoch`
  int64_t skipped = 0;              // samples of this batch whose file was bad (replaced by the next good one)
};

struct EpochReport {
  int64_t epoch = 0, samples = 0, skipped = 0;
};

class Loader {
 public:
  // ds (and opt.tokens) must outlive the loader.
  Loader(const Dataset& ds, LoaderOptions opt);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t batches_per_epoch() const;
  int64_t samples_per_epoch() const { return static_cast<int64_t>(order_size_); }
  // Starts (or restarts) the epoch at batch `position`; cancels work in flight.
  void start_epoch(int64_t epoch, int64_t position = 0);
  // The next batch of the current epoch; false when the epoch is done.
  bool next(Batch& out);
  // Bad files met so far in the current epoch.
  EpochReport report() const;
  const Dataset& dataset() const { return ds_; }
  const LoaderOptions& options() const { return opt_; }

 private:
  struct Slot;
  void worker();
  void stop_workers();
  void fill(Slot& slot, int64_t batch, int j);
  int64_t batch_size_of(int64_t batch) const;

  const Dataset& ds_;
  LoaderOptions opt_;
  size_t order_size_ = 0;
  std::vector<int64_t> order_;  // this rank's samples for the current epoch
  int64_t epoch_ = 0, num_batches_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_work_, cv_ready_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::thread> threads_;
  bool stop_ = false, started_ = false, summarized_ = false;
  int64_t next_item_ = 0, items_end_ = 0, consumed_ = 0;
  int64_t skipped_ = 0, samples_ = 0;
  std::set<std::string> reported_;  // bad files already reported (once per loader)
};

}  // namespace mapet::data
