// The tokenize run end to end on a few small JPEGs: centroids trained and
// reused, every stored token equal to an independent recomputation, a killed
// run resumed to the same bytes, imports checked, unreadable files counted,
// CLIP feature sources (random weights) wired to the right grids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/token_store.h"
#include "engine/io/npy.h"
#include "kernels/cpu/assign.h"
#include "models/clip_resnet.h"
#include "models/clip_vit.h"
#include "models/tokenizer/centroids.h"
#include "models/tokenizer/import_tokens.h"
#include "models/tokenizer/records.h"
#include "models/tokenizer/tokenize_split.h"
#include "tests/data/data_test_util.h"
#include "tests/test_util.h"

namespace mapet::tokenizer {
namespace {

namespace fs = std::filesystem;
using data::test::TempDir;

// root/{train,val}/<class>/<i>.jpg: small images of assorted sizes and content.
std::string make_splits(const TempDir& dir, int train_per_class, int val_per_class) {
  for (const auto& [split, per_class] : {std::pair{"train", train_per_class}, std::pair{"val", val_per_class}})
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < per_class; ++i) {
        int w = 20 + (i * 7 + c * 5) % 23, h = 18 + (i * 5 + c * 3) % 19;
        data::Image img = data::test::smooth_image(w, h, c * 50 + i + (split[0] == 'v' ? 1000 : 0));
        for (size_t k = 0; k < img.pixels.size(); k += 7) img.pixels[k] = static_cast<uint8_t>((k * 31 + i) % 256);
        data::test::write_bytes(dir / (std::string("ds/") + split + "/class" + std::to_string(c) + "/" +
                                       std::to_string(i) + ".jpg"),
                                data::test::jpeg_of(img, 95));
      }
  return dir / "ds";
}

RunOptions quiet_options(const std::string& out) {
  RunOptions o;
  o.out = out;
  o.batch_size = 4;
  o.workers = 2;
  o.chunk_images = 4;
  o.quiet = true;
  return o;
}

TrainCentroidsOptions small_kmeans(const std::string& path, int64_t k) {
  TrainCentroidsOptions t;
  t.path = path;
  t.sample_patches = 300;
  t.seed = 5;
  t.kmeans.k = k;
  t.kmeans.niter = 4;
  t.kmeans.nredo = 1;
  return t;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The tokens of image i recomputed without the loader or the fused kernel:
// decode + center view + patchify + float64 brute force.
std::vector<int64_t> direct_tokens(const data::Dataset& ds, size_t i, const FeatureExtractor& fx, const Codebook& cb) {
  std::vector<uint8_t> bytes = data::read_file(ds.full_path(i));
  const int s = fx.transform().size;
  Tensor img = Tensor::empty({1, 3, s, s});
  data::transform_jpeg(bytes.data(), bytes.size(), ds.full_path(i), fx.transform(), data::Mode::center,
                       data::SampleRng(0, 0, i), img.data<float>());
  Tensor f = fx.features(img).contiguous();
  std::vector<int64_t> ids(fx.tokens_per_image());
  cpu::assign_reference(f.data<float>(), fx.tokens_per_image(), cb.centroids().data<float>(), cb.size(), cb.dim(),
                        ids.data());
  return ids;
}

void expect_store_matches_direct(const std::string& store, const Split& split, const FeatureExtractor& fx,
                                 const Codebook& cb) {
  data::TokenStore s(store);
  s.check_matches(split.dataset.file_list_hash(), split.dataset.size(), split.name, fx.tokens_per_image());
  EXPECT_EQ(s.header().vocab_size, cb.size());
  for (size_t i = 0; i < split.dataset.size(); ++i) {
    std::vector<int64_t> want = direct_tokens(split.dataset, i, fx, cb);
    const uint16_t* row = s.row(i);
    for (int64_t p = 0; p < fx.tokens_per_image(); ++p)
      ASSERT_EQ(row[p], want[p]) << store << " image " << i << " patch " << p;
  }
}

TEST(Tokenize, PixelTokensMatchDirectComputationAndResumeToTheSameBytes) {
  TempDir dir;
  std::vector<Split> splits = find_splits(make_splits(dir, 9, 3));
  ASSERT_EQ(splits.size(), 2u);
  EXPECT_EQ(splits[0].name, "train");
  EXPECT_EQ(splits[1].name, "val");
  auto fx = pixel_features(16, 4);
  EXPECT_EQ(fx->tokens_per_image(), 16);
  EXPECT_EQ(fx->dim(), 48);

  RunOptions o = quiet_options(dir / "out");
  fs::create_directories(o.out);
  Codebook cb = train_centroids(training_split(splits), *fx, small_kmeans(dir / "out/centroids.npy", 12), o);
  EXPECT_EQ(cb.size(), 12);
  EXPECT_TRUE(fs::exists(dir / "out/centroids.npy.json"));

  // Uninterrupted, for reference bytes.
  SplitResult full = tokenize_split(splits[0], *fx, cb, o);
  EXPECT_FALSE(full.reused);
  EXPECT_EQ(full.images, 18);
  EXPECT_GT(full.usage.used, 1);
  EXPECT_EQ(full.usage.tokens, 18 * 16);
  expect_store_matches_direct(full.store, splits[0], *fx, cb);
  const std::string reference = read_bytes(full.store);
  EXPECT_FALSE(fs::exists(full.store + ".parts"));

  // Killed after two chunks: no store, two chunk files; the next run resumes them.
  fs::remove(full.store);
  fs::remove(full.store + ".json");
  RunOptions kill = o;
  kill.stop_after_chunks = 2;
  EXPECT_THROW(tokenize_split(splits[0], *fx, cb, kill), Error);
  EXPECT_FALSE(fs::exists(full.store));
  EXPECT_EQ(test::temp_file_in(fs::path(full.store).parent_path().string()), "");
  EXPECT_TRUE(fs::exists(full.store + ".parts/chunk_00000001.npy"));
  EXPECT_FALSE(fs::exists(full.store + ".parts/chunk_00000002.npy"));
  SplitResult resumed = tokenize_split(splits[0], *fx, cb, o);
  EXPECT_EQ(resumed.resumed_chunks, 2);
  EXPECT_EQ(read_bytes(resumed.store), reference);

  // Done: a third run reuses the store.
  SplitResult again = tokenize_split(splits[0], *fx, cb, o);
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.usage.used, full.usage.used);

  // Other centroids: stale chunks of a killed run are discarded, the store redone.
  EXPECT_THROW(tokenize_split(splits[1], *fx, cb, kill), Error);
  Tensor other = cb.centroids().clone();
  other.data<float>()[0] += 1.0f;
  Codebook cb2(other, "other centroids");
  SplitResult val = tokenize_split(splits[1], *fx, cb2, o);
  EXPECT_EQ(val.resumed_chunks, 0);
  expect_store_matches_direct(val.store, splits[1], *fx, cb2);
  SplitResult redo = tokenize_split(splits[0], *fx, cb2, o);
  EXPECT_FALSE(redo.reused);
  expect_store_matches_direct(redo.store, splits[0], *fx, cb2);
}

TEST(Tokenize, CentroidsAreReusedOnlyForTheSameSettings) {
  TempDir dir;
  std::vector<Split> splits = find_splits(make_splits(dir, 6, 1));
  auto fx = pixel_features(8, 4);
  RunOptions o = quiet_options(dir.str());
  TrainCentroidsOptions t = small_kmeans(dir / "c.npy", 6);
  Codebook a = train_centroids(splits[0], *fx, t, o);
  const nlohmann::json rec = read_record(dir / "c.npy.json");
  ASSERT_TRUE(rec.is_object());
  Codebook b = train_centroids(splits[0], *fx, t, o);  // reused: same bytes, record untouched
  EXPECT_EQ(checksum(a.centroids()), checksum(b.centroids()));
  EXPECT_EQ(read_record(dir / "c.npy.json"), rec);
  t.seed = 6;  // another sample: trained again
  train_centroids(splits[0], *fx, t, o);
  EXPECT_NE(read_record(dir / "c.npy.json")["recipe"], rec["recipe"]);
  // A sample smaller than k is refused, naming the split.
  t.sample_patches = 3;
  EXPECT_THROW(train_centroids(splits[0], *fx, t, o), Error);
}

TEST(Tokenize, SamplesTheRequestedNumberOfPatches) {
  TempDir dir;
  std::vector<Split> splits = find_splits(make_splits(dir, 5, 1));
  auto fx = pixel_features(8, 2);  // 16 patches of 12 values per image
  RunOptions o = quiet_options(dir.str());
  Tensor s = sample_patch_features(splits[0], *fx, 37, 1, o);
  EXPECT_EQ(s.shape(), (Shape{37, 12}));
  Tensor t = sample_patch_features(splits[0], *fx, 37, 1, o);
  EXPECT_EQ(s.to_vector(), t.to_vector());  // seeded
  Tensor all = sample_patch_features(splits[0], *fx, 100000, 1, o);
  EXPECT_EQ(all.size(0), 10 * 16);  // every patch of the split, no more
}

TEST(Tokenize, UnreadableImagesAreCountedAndKeepTokenZero) {
  TempDir dir;
  std::string root = make_splits(dir, 4, 0);
  data::test::write_bytes(root + "/train/class0/9.jpg", {'n', 'o', 't', 'j', 'p', 'e', 'g'});
  std::vector<Split> splits = find_splits(root + "/train");
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(splits[0].name, "train");
  auto fx = pixel_features(8, 4);
  RunOptions o = quiet_options(dir / "out");
  fs::create_directories(o.out);
  std::vector<float> c(3 * 48);
  for (size_t i = 0; i < c.size(); ++i) c[i] = float(i % 48) / 48.0f - float(i / 48);
  Codebook cb3(Tensor::from_vector(c, {3, 48}), "three");
  SplitResult r = tokenize_split(splits[0], *fx, cb3, o);
  EXPECT_EQ(r.images, 9);
  EXPECT_EQ(r.unreadable, 1);
  EXPECT_EQ(r.usage.tokens, 8 * 4);
  data::TokenStore s(r.store);
  const size_t bad = 4;  // class0/9.jpg sorts after class0/0..3
  ASSERT_EQ(splits[0].dataset.samples[bad].path, "class0/9.jpg");
  for (int p = 0; p < 4; ++p) EXPECT_EQ(s.row(bad)[p], 0);
}

TEST(Tokenize, ImportChecksCountShapeAndIds) {
  TempDir dir;
  std::vector<Split> splits = find_splits(make_splits(dir, 3, 1));
  RunOptions o = quiet_options(dir.str());
  std::vector<int64_t> ids(6 * 4);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i * 37 % 100);
  io::save_npy(dir / "t.npy", Tensor::from_vector(ids, {6, 2, 2}));
  ImportResult r = import_tokens(splits[0], dir / "t.npy", 100, 4, o);
  EXPECT_EQ(r.tokens_per_image, 4);
  EXPECT_EQ(r.usage.tokens, 24);
  data::TokenStore s(r.store);
  s.check_matches(splits[0].dataset.file_list_hash(), 6, "train", 4);
  EXPECT_EQ(s.row(5)[3], ids[23]);

  auto expect_error = [&](const Split& sp, int64_t vocab, int64_t P, const std::string& fragment) {
    try {
      import_tokens(sp, dir / "t.npy", vocab, P, o);
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("t.npy"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(splits[1], 100, 4, "has tokens for 6 images");
  expect_error(splits[0], 100, 16, "tokens per image");
  expect_error(splits[0], 50, 4, "outside the vocabulary");
  io::save_npy(dir / "t.npy", Tensor::from_vector(std::vector<float>(24, 1.0f), {6, 4}));
  expect_error(splits[0], 100, 4, "floats");
}

TEST(Tokenize, ClipFeatureSourcesUseTheRightGrid) {
  TempDir dir;
  std::vector<Split> splits = find_splits(make_splits(dir, 2, 1));
  models::ClipResNetConfig rc;
  rc.layers = {1, 1, 1, 1};
  rc.width = 8;
  io::save_safetensors(dir / "rn.safetensors", models::random_clip_resnet_weights(rc, 1));
  auto rn = clip_features(dir / "rn.safetensors", 2);
  EXPECT_EQ(rn->transform().size, 64);  // 2 x 32
  EXPECT_EQ(rn->transform().mean, data::kClipMean);
  EXPECT_EQ(rn->dim(), 256);
  EXPECT_EQ(rn->tokens_per_image(), 4);

  models::ClipVitConfig vc;
  vc.width = 64, vc.layers = 1, vc.heads = 1, vc.patch = 4, vc.image_resolution = 8, vc.output_dim = 6;
  io::save_safetensors(dir / "vit.safetensors", models::random_clip_vit_weights(vc, 2));
  auto vit = clip_features(dir / "vit.safetensors", 2);
  EXPECT_EQ(vit->transform().size, 8);
  EXPECT_EQ(vit->dim(), 6);
  EXPECT_THROW(clip_features(dir / "vit.safetensors", 14), Error);  // its grid is 2x2
  EXPECT_THROW(clip_features(dir / "missing.safetensors", 2), Error);

  // Random-weight k-CLIP end to end: the stored tokens are those of the features.
  RunOptions o = quiet_options(dir / "out");
  fs::create_directories(o.out);
  Codebook cb = train_centroids(splits[0], *rn, small_kmeans(dir / "out/c.npy", 3), o);
  SplitResult r = tokenize_split(splits[0], *rn, cb, o);
  expect_store_matches_direct(r.store, splits[0], *rn, cb);
}

TEST(CodebookUsage, CountsAndPerplexity) {
  UsageCounter u(4);
  const int64_t ids[] = {0, 0, 1, 1};
  u.add(ids, 4);
  CodebookUsage a = u.usage();
  EXPECT_EQ(a.used, 2);
  EXPECT_NEAR(a.perplexity, 2.0, 1e-12);  // two ids equally used
  const uint16_t more[] = {2, 3, 2, 3};
  u.add(more, 4);
  EXPECT_NEAR(u.usage().perplexity, 4.0, 1e-12);
  EXPECT_EQ(u.usage().used, 4);
  const int64_t bad[] = {4};
  EXPECT_THROW(u.add(bad, 1), Error);
}

}  // namespace
}  // namespace mapet::tokenizer
