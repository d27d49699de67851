#include "models/tokenizer/codebook.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "engine/io/npy.h"

namespace mapet::tokenizer {

Codebook::Codebook(const Tensor& centroids, const std::string& what) : what_(what) {
  if (centroids.dim() != 2 || centroids.size(0) < 1 || centroids.size(1) < 1)
    throw Error(what + ": centroids must be a [K, D] array with K, D >= 1, got " + centroids.str());
  if (centroids.size(0) > 65536)
    throw Error(what + ": " + std::to_string(centroids.size(0)) + " centroids, but token stores hold u16 ids (at most 65536)");
  c_ = centroids.to(DType::f32).contiguous();
  try {
    packed_ = std::make_shared<ops::AssignCentroids>(c_.data<float>(), size(), dim());
  } catch (const std::invalid_argument& e) {
    throw Error(what + ": " + e.what());
  }
  if (packed_->bad_centroid() >= 0)
    throw Error(what + ": centroid " + std::to_string(packed_->bad_centroid()) +
                " has a non-finite value (or a norm beyond the f32 range)");
}

Codebook Codebook::load(const std::string& npy_path) {
  Tensor t = io::load_npy(npy_path);
  if (t.dtype() != DType::f32) throw Error("centroids '" + npy_path + "' are " + dtype_name(t.dtype()) + ", need float32");
  return Codebook(t, "centroids '" + npy_path + "'");
}

void Codebook::save(const std::string& npy_path) const { io::save_npy(npy_path, c_); }

Tensor Codebook::assign(const Tensor& x, const std::string& what, Tensor* dist) const {
  if (x.dtype() != DType::f32 || x.dim() < 1 || x.size(-1) != dim())
    throw Error(what + ": expected f32 [..., " + std::to_string(dim()) + "] to match " + what_ + ", got " + x.str());
  Tensor xc = x.contiguous();
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor ids = Tensor::empty(out_shape, DType::i64);
  Tensor d;
  if (dist) d = Tensor::empty(out_shape, DType::f32);
  const int64_t n = ids.numel();
  int64_t bad = packed_->assign(xc.data<float>(), n, ids.data<int64_t>(), dist ? d.data<float>() : nullptr);
  if (bad >= 0) throw Error(what + ": vector " + std::to_string(bad) + " has a non-finite value");
  if (dist) *dist = d;
  return ids;
}

void UsageCounter::add(const int64_t* ids, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= static_cast<int64_t>(counts_.size()))
      throw Error("token id " + std::to_string(ids[i]) + " is outside the vocabulary of " + std::to_string(counts_.size()));
    ++counts_[ids[i]];
  }
}

void UsageCounter::add(const uint16_t* ids, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] >= counts_.size())
      throw Error("token id " + std::to_string(ids[i]) + " is outside the vocabulary of " + std::to_string(counts_.size()));
    ++counts_[ids[i]];
  }
}

CodebookUsage UsageCounter::usage() const {
  CodebookUsage u;
  u.vocab = static_cast<int64_t>(counts_.size());
  for (int64_t c : counts_) u.tokens += c, u.used += c > 0;
  double h = 0;
  for (int64_t c : counts_)
    if (c > 0) {
      double p = static_cast<double>(c) / static_cast<double>(u.tokens);
      h -= p * std::log(p);
    }
  u.perplexity = u.tokens > 0 ? std::exp(h) : 0.0;
  return u;
}

std::string CodebookUsage::str() const {
  char b[160];
  std::snprintf(b, sizeof b, "used %lld of %lld tokens (%.1f%%), perplexity %.1f over %lld patches",
                static_cast<long long>(used), static_cast<long long>(vocab), vocab ? 100.0 * used / vocab : 0.0,
                perplexity, static_cast<long long>(tokens));
  return b;
}

}  // namespace mapet::tokenizer
