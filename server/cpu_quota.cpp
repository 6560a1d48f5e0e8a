#include "server/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>

namespace roiserve::server {
namespace {

// The limit in CPUs, or 0 when there is none or it cannot be read.
double cgroup_cpu_limit(const std::filesystem::path& root) {
  std::ifstream v2(root / "cpu.max");  // "QUOTA PERIOD" or "max PERIOD"
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) {
    return quota == "max" || period <= 0 ? 0 : std::stod(quota) / period;
  }
  std::ifstream v1_quota(root / "cpu" / "cpu.cfs_quota_us");
  std::ifstream v1_period(root / "cpu" / "cpu.cfs_period_us");
  double quota_us = -1, period_us = 0;
  if (v1_quota >> quota_us && v1_period >> period_us && quota_us > 0 && period_us > 0) {
    return quota_us / period_us;
  }
  return 0;
}

}  // namespace

int usable_cores(const std::filesystem::path& cgroup_root) {
  cpu_set_t allowed;
  int cores = sched_getaffinity(0, sizeof(allowed), &allowed) == 0
                  ? CPU_COUNT(&allowed)
                  : static_cast<int>(std::thread::hardware_concurrency());
  double limit = 0;
  try {
    limit = cgroup_cpu_limit(cgroup_root);
  } catch (const std::exception&) {
    // An unreadable limit is no limit.
  }
  if (limit > 0) cores = std::min(cores, static_cast<int>(std::ceil(limit)));
  return std::max(cores, 1);
}

}  // namespace roiserve::server
