// The server's default thread count within a container's CPU limit.
#include <gtest/gtest.h>

#include <fstream>

#include "server/cpu_quota.h"
#include "../detector/temp_dir.h"

namespace roiserve::server {
namespace {

using CpuQuota = test::TempDirTest;

TEST_F(CpuQuota, NoLimitMeansTheAllowedCores) {
  const int cores = usable_cores(dir_);  // an empty directory: no cgroup files
  EXPECT_GE(cores, 1);
  std::ofstream(dir_ / "cpu.max") << "max 100000\n";
  EXPECT_EQ(usable_cores(dir_), cores);
}

TEST_F(CpuQuota, AV2LimitCapsTheCoresRoundingUp) {
  std::ofstream(dir_ / "cpu.max") << "50000 100000\n";  // half a CPU
  EXPECT_EQ(usable_cores(dir_), 1);
}

TEST_F(CpuQuota, AV1LimitCapsTheCores) {
  std::filesystem::create_directories(dir_ / "cpu");
  std::ofstream(dir_ / "cpu" / "cpu.cfs_quota_us") << "100000\n";
  std::ofstream(dir_ / "cpu" / "cpu.cfs_period_us") << "100000\n";
  EXPECT_EQ(usable_cores(dir_), 1);
  std::ofstream(dir_ / "cpu" / "cpu.cfs_quota_us") << "-1\n";  // unlimited
  EXPECT_GE(usable_cores(dir_), 1);
}

}  // namespace
}  // namespace roiserve::server
