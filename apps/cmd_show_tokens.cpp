// mapet show-tokens DATA --tokens STORE --out picture.png [--index I ...] [--count N]
// Draws images of a dataset beside their token maps (each patch filled with
// the colour of its token id), so a person can see what a tokenizer does:
// patches that look alike should share colours. The store is checked against
// DATA (the split it was made for, e.g. fashion-mnist/train).
#include <cmath>
#include <cstdio>
#include <set>

#include "apps/commands.h"
#include "data/loader.h"
#include "data/png.h"
#include "data/token_store.h"
#include "models/tokenizer/token_picture.h"

namespace mapet::apps {

namespace {

struct ShowTokensArgs {
  std::string data, root, tokens, out;
  std::vector<int64_t> indices;
  int64_t count = 8;
  int size = 224;
};

void run(const ShowTokensArgs& a) {
  data::Dataset ds = data::load_dataset(a.data, a.root);
  data::TokenStore store(a.tokens);
  store.check_matches(ds.file_list_hash(), ds.size(), ds.source);
  const int64_t P = store.header().tokens_per_image, grid = std::lround(std::sqrt(double(P)));
  if (grid * grid != P)
    throw Error("token store '" + a.tokens + "' has " + std::to_string(P) + " tokens per image, not a square grid");
  std::vector<int64_t> picked = a.indices;
  if (picked.empty())
    for (int64_t i = 0; i < std::min<int64_t>(a.count, ds.size()); ++i) picked.push_back(i);
  for (int64_t i : picked)
    if (i < 0 || i >= static_cast<int64_t>(ds.size()))
      throw Error("--index " + std::to_string(i) + " is outside dataset '" + a.data + "' (0.." +
                  std::to_string(ds.size() - 1) + ")");

  // The center view (what was tokenized), drawn with whole pixels per patch.
  data::Dataset sub = ds;
  sub.samples.clear();
  for (int64_t i : picked) sub.samples.push_back(ds.samples[i]);
  data::LoaderOptions o;
  o.batch_size = static_cast<int>(picked.size());
  o.mode = data::Mode::center;
  o.transform.size = static_cast<int>(grid * std::max<int64_t>(1, std::lround(double(a.size) / grid)));
  o.shuffle = false, o.drop_last = false, o.even_shards = false;
  data::Loader loader(sub, o);
  loader.start_epoch(0);
  data::Batch b;
  if (!loader.next(b)) throw Error("dataset '" + a.data + "' gave no images");

  std::vector<tokenizer::TokenPictureRow> rows;
  for (size_t j = 0; j < picked.size(); ++j) {
    tokenizer::TokenPictureRow r;
    r.view = tokenizer::to_image(b.images.select(0, static_cast<int64_t>(j)), o.transform.mean, o.transform.std);
    const uint16_t* t = store.row(static_cast<uint64_t>(picked[j]));
    r.tokens.assign(t, t + P);
    std::set<uint16_t> distinct(r.tokens.begin(), r.tokens.end());
    std::printf("%3lld  %s: %zu distinct tokens of %lld patches\n", static_cast<long long>(picked[j]),
                ds.samples[picked[j]].path.c_str(), distinct.size(), static_cast<long long>(P));
    rows.push_back(std::move(r));
  }
  data::write_png(a.out, tokenizer::token_picture(rows, grid));
  std::printf("wrote %s (%zu images, %lldx%lld tokens each)\n", a.out.c_str(), rows.size(), static_cast<long long>(grid),
              static_cast<long long>(grid));
}

}  // namespace

void register_show_tokens(CLI::App& app) {
  auto a = std::make_shared<ShowTokensArgs>();
  CLI::App* c = app.add_subcommand("show-tokens", "Draw images beside their visual-token maps (PNG)");
  c->add_option("data", a->data, "The dataset the store was made for (ImageFolder or CSV)")->required();
  c->add_option("--root", a->root, "Folder a CSV's paths are relative to");
  c->add_option("--tokens", a->tokens, "Token store (from mapet tokenize)")->required();
  c->add_option("--out", a->out, "Picture to write (.png)")->required();
  c->add_option("--index", a->indices, "Dataset indices to draw (default: the first --count)");
  c->add_option("--count", a->count, "How many images when no --index is given")->capture_default_str();
  c->add_option("--size", a->size, "Drawn size of each image (rounded to whole pixels per patch)")->capture_default_str();
  c->callback([a] { run(*a); });
}

}  // namespace mapet::apps
