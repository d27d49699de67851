// The thread count taken from what this process may use (engine/threads.h).
#include "engine/threads.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace mapet {
namespace {

TEST(Threads, CgroupQuotaIsRoundedUpAndMaxMeansNone) {
  EXPECT_EQ(cgroup_quota_cpus("max 100000"), 0);
  EXPECT_EQ(cgroup_quota_cpus("200000 100000"), 2);
  EXPECT_EQ(cgroup_quota_cpus("150000 100000"), 2);  // docker --cpus 1.5: two threads, not one
  EXPECT_EQ(cgroup_quota_cpus("50000 100000"), 1);
  EXPECT_EQ(cgroup_quota_cpus(""), 0);
  EXPECT_EQ(cgroup_quota_cpus("garbage"), 0);
  EXPECT_EQ(cgroup_quota_cpus("12x 100000"), 0);
}

TEST(Threads, AvailableCpusFollowTheAffinityMask) {
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  const int n = available_cpus();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, CPU_COUNT(&all));
  // Pinned to one CPU (as taskset -c 0 would), one thread.
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(available_cpus(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(available_cpus(), n);
}

}  // namespace
}  // namespace mapet
