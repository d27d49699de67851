#include "data/loader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "data/jpeg.h"
#include "data/sampler.h"

namespace mapet::data {

// One batch being filled: its tensors are allocated when its first sample is
// handed out and moved to the caller when it is complete.
struct Loader::Slot {
  int64_t batch = -1;
  int size = 0, done = 0;
  Batch b;
  std::exception_ptr error;  // the first failure (strict mode or a fatal error)
};

namespace {

constexpr int kMaxBadInARow = 100;  // past this the dataset path is probably wrong

SamplerOptions sampler_options(const LoaderOptions& o) {
  return SamplerOptions{o.shuffle, o.seed, o.rank, o.world, o.even_shards};
}

}  // namespace

Loader::Loader(const Dataset& ds, LoaderOptions opt) : ds_(ds), opt_(std::move(opt)) {
  opt_.transform.validate();
  if (opt_.batch_size <= 0) throw Error("loader: --batch-size " + std::to_string(opt_.batch_size) + " must be positive");
  if (ds_.size() == 0) throw Error("loader: dataset '" + ds_.source + "' is empty");
  if (opt_.workers <= 0) opt_.workers = std::max(1u, std::thread::hardware_concurrency());
  if (opt_.workers > kMaxWorkers)  // each is a thread with its own decode buffers
    throw Error("loader: --workers " + std::to_string(opt_.workers) + " is more than " + std::to_string(kMaxWorkers) +
                " decode threads");
  opt_.prefetch = std::max(opt_.prefetch, 1);
  if (opt_.tokens) {
    opt_.tokens->check_matches(ds_.file_list_hash(), ds_.size(), ds_.source);
    // Tokens are computed on the center view; any other view would pair
    // patches with tokens of other image content.
    bool aligned = opt_.mode == Mode::center || (opt_.mode == Mode::train && opt_.transform.train_is_center_view());
    if (!aligned)
      throw Error("token store '" + opt_.tokens->path() +
                  "' holds tokens of the center view, so training with it needs --scale 1 1 --ratio 1 1 --hflip 0 "
                  "(the MaPeT pre-training config); got " + opt_.transform.str());
  }
  order_size_ = epoch_order(static_cast<int64_t>(ds_.size()), 0, sampler_options(opt_)).size();
  if (order_size_ == 0)
    throw Error("loader: dataset '" + ds_.source + "' has fewer samples than ranks (" + std::to_string(opt_.world) + ")");
  for (int i = 0; i < opt_.prefetch; ++i) slots_.push_back(std::make_unique<Slot>());
}

Loader::~Loader() { stop_workers(); }

int64_t Loader::batches_per_epoch() const {
  int64_t n = static_cast<int64_t>(order_size_), b = opt_.batch_size;
  return opt_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t Loader::batch_size_of(int64_t batch) const {
  return std::min<int64_t>(opt_.batch_size, static_cast<int64_t>(order_size_) - batch * opt_.batch_size);
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Loader::start_epoch(int64_t epoch, int64_t position) {
  stop_workers();
  num_batches_ = batches_per_epoch();
  if (position < 0 || position > num_batches_)
    throw Error("loader: cannot resume epoch " + std::to_string(epoch) + " at batch " + std::to_string(position) +
                " (it has " + std::to_string(num_batches_) + ")");
  epoch_ = epoch;
  order_ = epoch_order(static_cast<int64_t>(ds_.size()), epoch, sampler_options(opt_));
  for (auto& s : slots_) *s = Slot{};
  stop_ = false;
  consumed_ = position;
  next_item_ = position * opt_.batch_size;
  items_end_ = std::min<int64_t>(num_batches_ * opt_.batch_size, static_cast<int64_t>(order_.size()));
  skipped_ = samples_ = 0;
  summarized_ = false;
  started_ = true;
  for (int i = 0; i < opt_.workers; ++i) threads_.emplace_back([this] { worker(); });
}

void Loader::worker() {
  for (;;) {
    int64_t item;
    Slot* slot;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, [&] {
        return stop_ || next_item_ >= items_end_ || next_item_ / opt_.batch_size < consumed_ + opt_.prefetch;
      });
      if (stop_ || next_item_ >= items_end_) return;
      item = next_item_++;
      int64_t batch = item / opt_.batch_size;
      slot = slots_[batch % opt_.prefetch].get();
      if (slot->batch != batch) {  // first sample of this batch: set the slot up
        int n = static_cast<int>(batch_size_of(batch));
        const int s = opt_.transform.size;
        *slot = Slot{};
        slot->batch = batch;
        slot->size = n;
        Batch& b = slot->b;
        b.images = Tensor::empty({n, 3, s, s}, DType::f32);
        b.labels = Tensor::empty({n}, DType::i64);
        b.seeds = Tensor::empty({n}, DType::i64);
        if (opt_.tokens) b.tokens = Tensor::empty({n, int64_t(opt_.tokens->header().tokens_per_image)}, DType::i64);
        b.indices.assign(n, -1);
        b.views.assign(n, View{});
        b.epoch = epoch_;
        b.position = batch;
      }
    }
    int64_t batch = item / opt_.batch_size;
    int j = static_cast<int>(item % opt_.batch_size);
    std::exception_ptr err;
    try {
      fill(*slot, batch, j);
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (err && !slot->error) slot->error = err;
      if (++slot->done == slot->size) cv_ready_.notify_all();
    }
  }
}

// Sample j of `batch`: the shard's entry at that position, or, when its file
// is bad, the next good one after it.
void Loader::fill(Slot& slot, int64_t batch, int j) {
  const int64_t pos = batch * opt_.batch_size + j;
  const int64_t intended = order_[pos];
  const int s = opt_.transform.size;
  float* out = slot.b.images.data<float>() + static_cast<size_t>(j) * 3 * s * s;
  // The draws belong to the slot (its intended sample), so a replacement does
  // not repeat the crop its own slot gets.
  SampleRng rng(opt_.seed, static_cast<uint64_t>(epoch_), static_cast<uint64_t>(intended));
  for (int attempt = 0;; ++attempt) {
    int64_t idx = order_[(pos + attempt) % order_.size()];
    const std::string path = ds_.full_path(idx);
    try {
      std::vector<uint8_t> bytes = read_file(path);
      View v = transform_jpeg(bytes.data(), bytes.size(), path, opt_.transform, opt_.mode, rng, out);
      slot.b.indices[j] = idx;
      slot.b.views[j] = v;
      slot.b.labels.data<int64_t>()[j] = ds_.samples[idx].label;
      slot.b.seeds.data<int64_t>()[j] =
          static_cast<int64_t>(SampleRng(opt_.seed ^ 0x7065726d75746521ull, epoch_, intended).key() >> 1);
      if (opt_.tokens) {
        const uint16_t* row = opt_.tokens->row(static_cast<uint64_t>(idx));
        int64_t* t = slot.b.tokens.data<int64_t>() + static_cast<size_t>(j) * opt_.tokens->header().tokens_per_image;
        std::copy(row, row + opt_.tokens->header().tokens_per_image, t);
      }
      std::lock_guard<std::mutex> lk(mu_);
      ++samples_;
      return;
    } catch (const Error& e) {
      if (opt_.strict) throw Error(std::string(e.what()) + " (--strict: stopping at the first bad file)");
      std::lock_guard<std::mutex> lk(mu_);
      if (attempt == 0) ++skipped_, ++slot.b.skipped;  // count replaced samples, not every bad file met on the way
      if (reported_.insert(path).second && !opt_.quiet)
        std::fprintf(stderr, "mapet: skipping bad image: %s; using the next good sample instead\n", e.what());
      if (attempt + 1 >= std::min<int64_t>(kMaxBadInARow, static_cast<int64_t>(order_.size())))
        throw Error("loader: " + std::to_string(attempt + 1) + " bad images in a row in dataset '" + ds_.source +
                    "' (last: '" + path + "'); is the dataset path right?");
    }
  }
}

bool Loader::next(Batch& out) {
  if (!started_) start_epoch(0, 0);
  std::unique_lock<std::mutex> lk(mu_);
  if (consumed_ >= num_batches_) {
    if (skipped_ > 0 && !summarized_ && !opt_.quiet)
      std::fprintf(stderr, "mapet: epoch %lld: skipped %lld bad image(s) among %lld reads (each file reported once above), replaced by the next good sample\n",
                   static_cast<long long>(epoch_), static_cast<long long>(skipped_),
                   static_cast<long long>(samples_ + skipped_));
    summarized_ = true;
    return false;
  }
  Slot& slot = *slots_[consumed_ % opt_.prefetch];
  cv_ready_.wait(lk, [&] { return slot.batch == consumed_ && slot.done == slot.size; });
  if (slot.error) {
    std::exception_ptr e = slot.error;
    lk.unlock();
    stop_workers();
    std::rethrow_exception(e);
  }
  out = std::move(slot.b);
  slot = Slot{};
  ++consumed_;
  lk.unlock();
  cv_work_.notify_all();
  return true;
}

EpochReport Loader::report() const {
  std::lock_guard<std::mutex> lk(mu_);
  return EpochReport{epoch_, samples_, skipped_};
}

}  // namespace mapet::data
