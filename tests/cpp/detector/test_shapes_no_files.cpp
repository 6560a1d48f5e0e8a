// Samples are made on the fly, in memory: generating them writes no file.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdlib>

#include "detector/data/shapes_dataset.h"

namespace roiserve::detector {
namespace {

// Under a file size limit of 0 the first byte written to any file kills the
// process with SIGXFSZ; otherwise it exits with 0.
void generate_where_no_file_may_grow() {
  const rlimit no_file_growth{0, 0};
  setrlimit(RLIMIT_FSIZE, &no_file_growth);
  std::signal(SIGXFSZ, SIG_DFL);
  for (int64_t index = 0; index < 5; ++index) generate_shapes_sample(1, index);
  std::_Exit(0);
}

TEST(ShapesDeathTest, GenerationWritesNoFile) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the parent holds OpenMP threads
  EXPECT_EXIT(generate_where_no_file_may_grow(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace roiserve::detector
