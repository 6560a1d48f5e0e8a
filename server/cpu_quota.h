#pragma once
// How many cores this process may use: the CPUs it may run on, capped by a
// container's CPU limit (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), which
// std::thread::hardware_concurrency() does not see. A server sized by the
// host's cores in a 2-CPU container runs more OpenMP threads than it gets
// CPU time for.
#include <filesystem>

namespace roiserve::server {

// cgroup_root: where the cgroup file systems are mounted.
int usable_cores(const std::filesystem::path& cgroup_root = "/sys/fs/cgroup");

}  // namespace roiserve::server
