#include "apps/train/data_parallel.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace mapet::apps::train {

namespace {

void broadcast_tensor(dist::Communicator& comm, const Tensor& t, const std::string& what) {
  if (!t.is_contiguous()) throw Error("data parallel: " + what + " is not contiguous");
  comm.broadcast(t.raw_data(), int64_t(t.nbytes()), 0, what);
}

}  // namespace

void broadcast_start(dist::Communicator& comm, const nn::Module& model, Trainer& trainer, TrainState& st,
                     Generator& rng) {
  if (comm.size() == 1) return;
  for (const nn::NamedParam& p : model.named_parameters())
    broadcast_tensor(comm, p.var.value(), "the start broadcast of parameter '" + p.name + "'");
  optim::AdamW& opt = trainer.optimizer();
  for (optim::AdamW::Slot& s : opt.slots()) {
    broadcast_tensor(comm, s.m, "the start broadcast of AdamW's exp_avg of '" + s.param.name + "'");
    broadcast_tensor(comm, s.v, "the start broadcast of AdamW's exp_avg_sq of '" + s.param.name + "'");
  }
  // The same program on every rank: the structs have the same layout.
  struct {
    TrainState st;
    int64_t optimizer_steps, steps_done;
    uint64_t rng_seed, rng_offset;
  } state{st, opt.steps(), trainer.steps_done(), rng.seed(), rng.offset()};
  comm.broadcast(&state, sizeof state, 0, "the start broadcast of the run state");
  st = state.st;
  opt.set_steps(state.optimizer_steps);
  trainer.set_steps_done(state.steps_done);
  rng.set_state(dist::rank_seed(state.rng_seed, comm.rank()), state.rng_offset);
}

int64_t position_for_world(const TrainState& st, int64_t accum_steps, int world, const std::string& from) {
  const int64_t old_accum = st.accum_steps > 0 ? st.accum_steps : accum_steps;
  if (st.position % old_accum != 0)
    throw Error("checkpoint '" + from + "' stopped at batch " + std::to_string(st.position) +
                " of its epoch, which is not a multiple of its accum_steps " + std::to_string(old_accum));
  const int64_t step = st.position / old_accum;
  std::printf("note: checkpoint '%s' is from a run on %lld rank(s), this one has %d: it continues at optimizer step "
              "%lld of epoch %lld with the global batch (--total-batch) of the settings; the data order is kept, the "
              "drop-path draws differ from an uninterrupted run's\n",
              from.c_str(), (long long)st.world_size, world, (long long)step, (long long)st.epoch + 1);
  return step * accum_steps;
}

void average_over_ranks(dist::Communicator& comm, std::initializer_list<double*> values, const std::string& what) {
  if (comm.size() == 1) return;
  std::vector<double> v;
  for (double* p : values) v.push_back(*p);
  comm.all_reduce(v.data(), int64_t(v.size()), dist::Elem::f64, what);
  size_t i = 0;
  for (double* p : values) *p = v[i++] / double(comm.size());
}

void reduce_over_ranks(dist::Communicator& comm, ClassifierMeter& m) {
  if (comm.size() == 1) return;
  int64_t counts[3] = {m.n, m.top1, m.top5};
  comm.all_reduce(counts, 3, dist::Elem::i64, "the sum of the evaluation counts");
  double loss = m.loss;
  comm.all_reduce(&loss, 1, dist::Elem::f64, "the sum of the evaluation loss");
  // The slowest rank's time is the evaluation's: a max, as a sum of one entry per rank.
  std::vector<double> secs(size_t(comm.size()), 0.0);
  secs[size_t(comm.rank())] = m.seconds;
  comm.all_reduce(secs.data(), int64_t(secs.size()), dist::Elem::f64, "the evaluation times");
  m.n = counts[0], m.top1 = counts[1], m.top5 = counts[2], m.loss = loss;
  m.seconds = 0;
  for (double s : secs) m.seconds = std::max(m.seconds, s);
}

std::string ranks_summary(const dist::Communicator& comm) {
  if (comm.size() == 1) return "";
  return " on " + std::to_string(comm.size()) + " ranks (" + comm.backend() + ")";
}

}  // namespace mapet::apps::train
