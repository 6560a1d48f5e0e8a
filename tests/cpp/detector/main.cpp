// The test binary runs on every core, as the project's programs do: Debian's
// LibTorch would otherwise start with one thread and no test would exercise
// the parallel loops.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return RUN_ALL_TESTS();
}
