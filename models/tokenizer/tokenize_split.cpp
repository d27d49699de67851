#include "models/tokenizer/tokenize_split.h"

#include <cstdio>
#include <filesystem>

#include "data/token_store.h"
#include "engine/io/npy.h"
#include "models/tokenizer/records.h"

namespace mapet::tokenizer {

namespace fs = std::filesystem;

namespace {

std::string chunk_path(const std::string& parts, int64_t c) {
  char name[32];
  std::snprintf(name, sizeof name, "chunk_%08lld.npy", static_cast<long long>(c));
  return parts + "/" + name;
}

// The chunks already written, counted from the first: a chunk file is
// complete or absent (atomic writes), but check its shape anyway.
int64_t finished_chunks(const std::string& parts, int64_t chunks, int64_t chunk, int64_t images, int64_t P) {
  for (int64_t c = 0; c < chunks; ++c) {
    const std::string p = chunk_path(parts, c);
    if (!fs::exists(p)) return c;
    const io::NpyInfo info = io::read_npy_info(p);
    const int64_t rows = std::min(chunk, images - c * chunk);
    if (info.descr != "<i4" || info.shape != Shape{rows, P}) return c;
  }
  return chunks;
}

}  // namespace

CodebookUsage store_usage(const std::string& store_path) {
  data::TokenStore s(store_path);
  UsageCounter u(s.header().vocab_size);
  for (uint64_t i = 0; i < s.header().count; ++i) u.add(s.row(i), s.header().tokens_per_image);
  return u.usage();
}

SplitResult tokenize_split(const Split& split, const FeatureExtractor& fx, const Codebook& codebook,
                           const RunOptions& o) {
  SplitResult r;
  r.name = split.name;
  r.store = (fs::path(o.out) / (split.name + ".tokens")).string();
  const std::string record_path = r.store + ".json", parts = r.store + ".parts";
  const data::Dataset& ds = split.dataset;
  const int64_t images = static_cast<int64_t>(ds.size()), P = fx.tokens_per_image(), K = codebook.size();
  const uint64_t hash = ds.file_list_hash();
  r.images = images;
  // What the tokens depend on (paths are not: moving DATA or OUT keeps a store valid).
  const nlohmann::json recipe = {{"dataset_hash", hex64(hash)}, {"images", images},
                                 {"tokens_per_image", P},       {"vocab", K},
                                 {"features", fx.describe()},   {"centroids_checksum", checksum(codebook.centroids())}};

  // Done before, the same way?
  const nlohmann::json old = read_record(record_path);
  if (fs::exists(r.store) && old.is_object() && old.value("recipe", nlohmann::json()) == recipe) {
    data::TokenStore s(r.store);
    s.check_matches(hash, images, ds.source, P);
    r.reused = true;
    r.unreadable = old.value("unreadable_images", int64_t(0));
    r.usage = store_usage(r.store);
    return r;
  }

  // Chunks of whole batches, so that chunk c starts at a batch position.
  const int64_t chunk = std::max<int64_t>(1, (o.chunk_images + o.batch_size - 1) / o.batch_size) * o.batch_size;
  const int64_t chunks = (images + chunk - 1) / chunk;
  nlohmann::json manifest = recipe;
  manifest["chunk_images"] = chunk;
  fs::create_directories(parts);
  if (read_record(parts + "/manifest.json") != manifest) {
    for (const auto& e : fs::directory_iterator(parts)) fs::remove_all(e.path());
    write_record(parts + "/manifest.json", manifest);
  }
  const int64_t first = finished_chunks(parts, chunks, chunk, images, P);
  r.resumed_chunks = first;

  if (first < chunks) {
    data::Loader loader(ds, feature_loader_options(fx, o.batch_size, o.workers, o.quiet));
    loader.start_epoch(0, first * chunk / o.batch_size);
    Tensor rows;  // i32 [rows in chunk, P]; -1 = not (yet) filled
    int64_t c = first, written = 0, done = first * chunk;
    if (o.progress) o.progress(split.name, done, images);
    auto start_chunk = [&] {
      rows = Tensor::empty({std::min(chunk, images - c * chunk), P}, DType::i32);
      std::fill(rows.data<int32_t>(), rows.data<int32_t>() + rows.numel(), -1);
    };
    start_chunk();
    data::Batch b;
    while (loader.next(b)) {
      Tensor ids = codebook.assign(fx.features(b.images), "features of " + ds.source);  // [B, P]
      for (size_t i = 0; i < b.indices.size(); ++i) {
        // A slot whose file could not be read holds another sample (maybe of the next chunk).
        const int64_t row = b.indices[i] - c * chunk;
        if (row < 0 || row >= rows.size(0)) continue;
        for (int64_t p = 0; p < P; ++p)
          rows.data<int32_t>()[row * P + p] = static_cast<int32_t>(ids.data<int64_t>()[i * P + p]);
      }
      done += static_cast<int64_t>(b.indices.size());
      if (o.progress) o.progress(split.name, done, images);
      if (done == std::min(images, (c + 1) * chunk)) {
        io::save_npy(chunk_path(parts, c), rows);
        ++written, ++c;
        if (o.stop_after_chunks >= 0 && written >= o.stop_after_chunks)
          throw Error("tokenize: stopped after " + std::to_string(written) + " chunks (as asked)");
        if (c < chunks) start_chunk();
      }
    }
    if (c != chunks) throw Error("tokenize: the loader ended " + split.name + " after chunk " + std::to_string(c));
  }

  // Assemble the store from the chunks.
  data::TokenStoreHeader h;
  h.count = static_cast<uint64_t>(images), h.tokens_per_image = static_cast<uint32_t>(P);
  h.vocab_size = static_cast<uint32_t>(K), h.dataset_hash = hash;
  data::TokenStoreWriter w(r.store, h);
  UsageCounter usage(K);
  std::vector<uint16_t> row(P);
  for (int64_t c = 0; c < chunks; ++c) {
    Tensor t = io::load_npy(chunk_path(parts, c));
    const int32_t* v = t.data<int32_t>();
    for (int64_t i = 0; i < t.size(0); ++i) {
      bool filled = v[i * P] >= 0;
      for (int64_t p = 0; p < P; ++p) row[p] = filled ? static_cast<uint16_t>(v[i * P + p]) : 0;
      if (filled) usage.add(row.data(), P);
      else ++r.unreadable;
      w.set(static_cast<uint64_t>(c * chunk + i), row.data());
    }
  }
  w.finish();
  r.usage = usage.usage();
  write_record(record_path, {{"recipe", recipe},
                             {"dataset", ds.source},
                             {"centroids", codebook.source()},
                             {"unreadable_images", r.unreadable},
                             {"usage", {{"used", r.usage.used}, {"vocab", r.usage.vocab}, {"perplexity", r.usage.perplexity}}}});
  fs::remove_all(parts);
  return r;
}

}  // namespace mapet::tokenizer
