// main() of the tests that run under `mpirun -np N` (and as one process):
// MPI starts before gtest and ends after it. Only rank 0 prints gtest's
// progress; a failure on any rank is printed by that rank and fails its exit
// code, which mpirun passes on.
#include <gtest/gtest.h>

#include "engine/distributed/communicator.h"

int main(int argc, char** argv) {
  mapet::dist::init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  mapet::dist::Communicator& w = mapet::dist::world();
  if (w.rank() != 0) {
    ::testing::TestEventListeners& l = ::testing::UnitTest::GetInstance()->listeners();
    delete l.Release(l.default_result_printer());
    struct FailurePrinter : ::testing::EmptyTestEventListener {
      int rank;
      explicit FailurePrinter(int r) : rank(r) {}
      void OnTestPartResult(const ::testing::TestPartResult& r) override {
        if (r.failed())
          std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank, r.file_name() ? r.file_name() : "?", r.line_number(),
                       r.summary());
      }
    };
    l.Append(new FailurePrinter(w.rank()));
  }
  const int rc = RUN_ALL_TESTS();
  // Every rank's verdict: one failing rank fails the run on all of them.
  int64_t failed = rc != 0;
  w.all_reduce(&failed, 1, mapet::dist::Elem::i64, "the test verdicts");
  mapet::dist::finalize();
  return failed ? 1 : 0;
}
