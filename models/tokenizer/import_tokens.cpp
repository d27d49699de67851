#include "models/tokenizer/import_tokens.h"

#include <filesystem>

#include "data/token_store.h"
#include "engine/io/npy.h"
#include "models/tokenizer/records.h"

namespace mapet::tokenizer {

ImportResult import_tokens(const Split& split, const std::string& npy_path, int64_t vocab, int64_t tokens_per_image,
                           const RunOptions& o) {
  const std::string what = "--import '" + npy_path + "'";
  Tensor t = io::load_npy(npy_path);
  if (t.dtype() == DType::f32) throw Error(what + " holds floats; token ids must be integers");
  if (t.dim() != 2 && t.dim() != 3) throw Error(what + ": expected [N, P] or [N, h, w] token ids, got " + t.str());
  const int64_t n = t.size(0), P = t.numel() / std::max<int64_t>(n, 1);
  const int64_t images = static_cast<int64_t>(split.dataset.size());
  if (n != images)
    throw Error(what + " has tokens for " + std::to_string(n) + " images but '" + split.dataset.source + "' has " +
                std::to_string(images) + " (rows must follow the dataset's order)");
  if (tokens_per_image > 0 && P != tokens_per_image)
    throw Error(what + " has " + std::to_string(P) + " tokens per image (" + t.str() + ") but the patch grid needs " +
                std::to_string(tokens_per_image) + " (--input-size / --patch-size)");
  if (vocab < 1 || vocab > 65536) throw Error("--num-tokens " + std::to_string(vocab) + " must be in 1..65536");
  Tensor ids = t.to(DType::i64).contiguous();
  const int64_t* v = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i)
    if (v[i] < 0 || v[i] >= vocab)
      throw Error(what + ": image " + std::to_string(i / P) + " has token " + std::to_string(v[i]) +
                  ", outside the vocabulary of " + std::to_string(vocab) + " (--num-tokens)");

  ImportResult r;
  r.name = split.name;
  r.store = (std::filesystem::path(o.out) / (split.name + ".tokens")).string();
  r.images = images, r.tokens_per_image = P;
  data::TokenStoreHeader h;
  h.count = static_cast<uint64_t>(n), h.tokens_per_image = static_cast<uint32_t>(P);
  h.vocab_size = static_cast<uint32_t>(vocab), h.dataset_hash = split.dataset.file_list_hash();
  data::TokenStoreWriter w(r.store, h);
  UsageCounter usage(vocab);
  std::vector<uint16_t> row(P);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < P; ++p) row[p] = static_cast<uint16_t>(v[i * P + p]);
    w.set(static_cast<uint64_t>(i), row.data());
  }
  usage.add(v, ids.numel());
  w.finish();
  r.usage = usage.usage();
  write_record(r.store + ".json",
               {{"recipe", {{"dataset", split.dataset.source}, {"dataset_hash", hex64(h.dataset_hash)}, {"images", n},
                            {"tokens_per_image", P}, {"vocab", vocab}, {"imported_from", npy_path},
                            {"checksum", checksum(t)}}},
                {"usage", {{"used", r.usage.used}, {"vocab", r.usage.vocab}, {"perplexity", r.usage.perplexity}}}});
  return r;
}

}  // namespace mapet::tokenizer
