// The loader: same batches whatever the thread count, exact resume, disjoint
// shards, and a corpus of broken files handled without a crash or a wrong label.
#include "data/loader.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/png.h"
#include "tests/data/data_test_util.h"

namespace mapet::data {
namespace {

using test::TempDir;

// root/<class>/<i>.jpg, `per_class` small JPEGs per class, all different.
std::string make_folder(const TempDir& dir, int classes, int per_class) {
  for (int c = 0; c < classes; ++c)
    for (int i = 0; i < per_class; ++i) {
      int w = 24 + (i * 7 + c * 3) % 29, h = 20 + (i * 5 + c) % 23;  // assorted sizes and shapes
      test::write_bytes(dir / ("ds/class" + std::to_string(c) + "/" + std::to_string(i) + ".jpg"),
                        test::jpeg_of(test::smooth_image(w, h, c * 100 + i), 90));
    }
  return dir / "ds";
}

LoaderOptions small_options(int workers) {
  LoaderOptions o;
  o.batch_size = 5;
  o.transform.size = 16;
  o.transform.brightness = o.transform.contrast = o.transform.saturation = 0.3f;
  o.seed = 77;
  o.workers = workers;
  o.prefetch = 2;
  o.quiet = true;
  return o;
}

struct Seen {
  std::vector<std::vector<float>> images;
  std::vector<std::vector<int64_t>> labels, indices, seeds;
  int64_t skipped = 0;  // the batches' own counts of replaced samples, summed
};

Seen run_epoch(Loader& l, int64_t epoch, int64_t position = 0) {
  Seen s;
  l.start_epoch(epoch, position);
  Batch b;
  while (l.next(b)) {
    EXPECT_EQ(b.epoch, epoch);
    s.images.push_back(b.images.to_vector());
    auto ints = [](const Tensor& t) {
      std::vector<int64_t> v(t.data<int64_t>(), t.data<int64_t>() + t.numel());
      return v;
    };
    s.labels.push_back(ints(b.labels));
    s.seeds.push_back(ints(b.seeds));
    s.indices.push_back(b.indices);
    s.skipped += b.skipped;
  }
  return s;
}

TEST(Loader, BatchesDoNotDependOnTheThreadCount) {
  TempDir dir;
  Dataset ds = load_image_folder(make_folder(dir, 3, 8));
  Loader one(ds, small_options(1)), three(ds, small_options(3));
  EXPECT_EQ(one.batches_per_epoch(), 4);  // 24 samples, batch 5, drop_last
  Seen a = run_epoch(one, 1), b = run_epoch(three, 1);
  ASSERT_EQ(a.images.size(), 4u);
  EXPECT_EQ(a.images, b.images);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.seeds, b.seeds);
  for (size_t i = 0; i < a.indices.size(); ++i)
    for (size_t j = 0; j < a.indices[i].size(); ++j) EXPECT_EQ(a.labels[i][j], ds.samples[a.indices[i][j]].label);
  Seen c = run_epoch(three, 2);
  EXPECT_NE(a.indices, c.indices);  // a new epoch, a new order
}

TEST(Loader, ResumesExactlyAtAPosition) {
  TempDir dir;
  Dataset ds = load_image_folder(make_folder(dir, 2, 11));
  Loader l(ds, small_options(2));
  Seen full = run_epoch(l, 3);
  Seen rest = run_epoch(l, 3, 2);
  ASSERT_EQ(rest.images.size(), full.images.size() - 2);
  for (size_t i = 0; i < rest.images.size(); ++i) {
    EXPECT_EQ(rest.images[i], full.images[i + 2]);
    EXPECT_EQ(rest.indices[i], full.indices[i + 2]);
    EXPECT_EQ(rest.seeds[i], full.seeds[i + 2]);
  }
  Loader fresh(ds, small_options(1));  // a new process resuming
  Seen again = run_epoch(fresh, 3, 2);
  EXPECT_EQ(again.images, rest.images);
  EXPECT_THROW(l.start_epoch(3, 99), Error);
}

TEST(Loader, DropLastAndShortLastBatch) {
  TempDir dir;
  Dataset ds = load_image_folder(make_folder(dir, 1, 12));
  LoaderOptions o = small_options(2);
  o.drop_last = false;
  Loader l(ds, o);
  EXPECT_EQ(l.batches_per_epoch(), 3);
  Seen s = run_epoch(l, 0);
  ASSERT_EQ(s.labels.size(), 3u);
  EXPECT_EQ(s.labels[2].size(), 2u);
  std::set<int64_t> all;
  for (auto& v : s.indices) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 12u);  // every sample once
}

TEST(Loader, RankShardsAreDisjoint) {
  TempDir dir;
  Dataset ds = load_image_folder(make_folder(dir, 2, 13));  // 26 samples
  for (bool even : {true, false}) {
    std::map<int64_t, int> count;
    int64_t total = 0;
    for (int rank = 0; rank < 3; ++rank) {
      LoaderOptions o = small_options(2);
      o.world = 3, o.rank = rank, o.drop_last = false, o.even_shards = even;
      Loader l(ds, o);
      Seen s = run_epoch(l, 4);
      for (auto& v : s.indices)
        for (int64_t i : v) count[i]++, total++;
    }
    for (auto& [i, n] : count) EXPECT_EQ(n, 1) << "sample " << i << " read by " << n << " ranks";
    EXPECT_EQ(total, even ? 24 : 26);  // even shards cut the list to a multiple of 3
  }
}

// The corpus of broken files, among good ones.
struct BrokenCorpus {
  TempDir dir;
  std::string root;
  std::set<std::string> bad;
  BrokenCorpus() {
    root = make_folder(dir, 2, 6);
    std::vector<uint8_t> good = test::jpeg_of(test::smooth_image(40, 30), 90);
    auto add = [&](const std::string& name, const std::vector<uint8_t>& bytes, bool is_bad) {
      test::write_bytes(root + "/class1/" + name, bytes);
      if (is_bad) bad.insert(root + "/class1/" + name);
    };
    add("bad_truncated.jpg", std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2), true);
    add("bad_zero.jpg", {}, true);
    std::vector<uint8_t> noise(3000);
    for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<uint8_t>(i * 7919 % 251);
    add("bad_random.jpg", noise, true);
    add("bad_png.jpg", encode_png(test::smooth_image(8, 8)), true);
    add("bad_huge.jpg", test::with_claimed_size(good, 20000, 20000), true);
    add("ok_1x1.jpg", test::jpeg_of(test::smooth_image(1, 1)), false);
    // Unreadable: listed, then gone (a dangling link).
    test::fs::create_symlink(root + "/nowhere.jpg", root + "/class1/bad_gone.jpg");
    bad.insert(root + "/class1/bad_gone.jpg");
  }
};

TEST(Loader, BrokenFilesAreReportedOnceAndReplaced) {
  BrokenCorpus corpus;
  Dataset ds = load_image_folder(corpus.root);
  ASSERT_EQ(ds.size(), 6u + 6u + 7u);
  LoaderOptions o = small_options(3);
  o.quiet = false;
  o.drop_last = false;
  Loader l(ds, o);
  ::testing::internal::CaptureStderr();
  Seen e0 = run_epoch(l, 0);
  EpochReport r0 = l.report();
  Seen e1 = run_epoch(l, 1);
  EpochReport r1 = l.report();
  std::string err = ::testing::internal::GetCapturedStderr();
  for (const std::string& path : corpus.bad) {
    size_t first = err.find("'" + path + "'");
    ASSERT_NE(first, std::string::npos) << path << " not reported in:\n" << err;
    EXPECT_EQ(err.find("'" + path + "'", first + 1), std::string::npos) << path << " reported twice:\n" << err;
  }
  EXPECT_NE(err.find("epoch 0: skipped 6 bad image(s)"), std::string::npos) << err;
  EXPECT_NE(err.find("epoch 1: skipped 6"), std::string::npos) << err;
  EXPECT_EQ(r0.skipped, 6);
  EXPECT_EQ(r1.skipped, 6);
  EXPECT_EQ(e0.skipped, 6);  // each batch counts its own (what show-batch reports for one batch)
  EXPECT_EQ(e1.skipped, 6);
  size_t n = 0;
  bool saw_1x1 = false;
  for (const Seen* s : {&e0, &e1})
    for (size_t b = 0; b < s->indices.size(); ++b)
      for (size_t j = 0; j < s->indices[b].size(); ++j, ++n) {
        int64_t idx = s->indices[b][j];
        EXPECT_EQ(corpus.bad.count(ds.full_path(idx)), 0u) << "a bad file made it into a batch";
        EXPECT_EQ(s->labels[b][j], ds.samples[idx].label) << "wrong label";
        saw_1x1 |= ds.samples[idx].path == "class1/ok_1x1.jpg";
      }
  EXPECT_EQ(n, 2 * ds.size());  // every slot filled
  EXPECT_TRUE(saw_1x1);
}

TEST(Loader, StrictStopsAtTheFirstBadFileWithItsName) {
  BrokenCorpus corpus;
  Dataset ds = load_image_folder(corpus.root);
  LoaderOptions o = small_options(2);
  o.strict = true;
  Loader l(ds, o);
  l.start_epoch(0);
  Batch b;
  try {
    while (l.next(b)) {
    }
    FAIL() << "no error in strict mode";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad_"), std::string::npos) << m;
    EXPECT_NE(m.find("--strict"), std::string::npos) << m;
  }
}

TEST(Loader, AttachesTokensOfTheCenterViewOnly) {
  TempDir dir;
  Dataset ds = load_image_folder(make_folder(dir, 2, 5));
  const std::string path = dir / "tok.bin";
  {
    TokenStoreWriter w(path, TokenStoreHeader{ds.size(), 4, 100, ds.file_list_hash()});
    for (uint64_t i = 0; i < ds.size(); ++i) {
      uint16_t row[4] = {uint16_t(i), uint16_t(i + 1), uint16_t(2 * i), 99};
      w.set(i, row);
    }
    w.finish();
  }
  TokenStore store(path);
  LoaderOptions o = small_options(2);
  o.tokens = &store;
  EXPECT_THROW(Loader(ds, o), Error);  // default RandomResizedCrop + flip: tokens would not line up
  o.transform.scale_min = o.transform.scale_max = o.transform.ratio_min = o.transform.ratio_max = 1;
  o.transform.hflip = 0;
  Loader l(ds, o);
  l.start_epoch(0);
  Batch b;
  ASSERT_TRUE(l.next(b));
  ASSERT_EQ(b.tokens.shape(), (Shape{5, 4}));
  for (int j = 0; j < 5; ++j) {
    EXPECT_EQ(b.tokens.data<int64_t>()[j * 4 + 0], b.indices[j]);
    EXPECT_EQ(b.tokens.data<int64_t>()[j * 4 + 2], 2 * b.indices[j]);
    EXPECT_FALSE(b.views[j].flip);
  }
  Dataset other = ds;
  other.samples.pop_back();
  other.samples.push_back({"class1/renamed.jpg", 1});
  EXPECT_THROW(Loader(other, o), Error);
}

}  // namespace
}  // namespace mapet::data
