// A codebook of K centroids [K, D]: every feature vector becomes the id of its
// nearest centroid (squared L2, ties to the lowest id) through the fused
// assignment op (engine/ops/assign.h). Centroids live in .npy files.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "engine/ops/assign.h"

namespace mapet::tokenizer {

class Codebook {
 public:
  // centroids: f32 [K, D]; `what` names them in messages (a file, usually).
  explicit Codebook(const Tensor& centroids, const std::string& what = "centroids");
  static Codebook load(const std::string& npy_path);
  void save(const std::string& npy_path) const;

  int64_t size() const { return c_.size(0); }
  int64_t dim() const { return c_.size(1); }
  const Tensor& centroids() const { return c_; }
  const std::string& source() const { return what_; }

  // x: f32 [..., D] -> ids i64 [...]; dist (optional) gets the squared
  // distances f32 [...]. `what` names x in messages (a non-finite value).
  Tensor assign(const Tensor& x, const std::string& what = "features", Tensor* dist = nullptr) const;

 private:
  Tensor c_;
  std::string what_;
  std::shared_ptr<const ops::AssignCentroids> packed_;
};

// How a tokenizer uses its K ids: how many occur, and the perplexity
// exp(-sum p log p) of their frequencies (K when all are equally used, 1 when
// one id takes everything).
struct CodebookUsage {
  int64_t vocab = 0, used = 0, tokens = 0;
  double perplexity = 0;
  std::string str() const;  // "used 812 of 1024 tokens (79.3%), perplexity 603.2"
};

class UsageCounter {
 public:
  explicit UsageCounter(int64_t vocab) : counts_(vocab, 0) {}
  void add(const int64_t* ids, int64_t n);
  void add(const uint16_t* ids, int64_t n);
  CodebookUsage usage() const;
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  std::vector<int64_t> counts_;
};

}  // namespace mapet::tokenizer
