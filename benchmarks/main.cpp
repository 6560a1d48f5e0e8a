// Runs the benchmarks at `--threads N` ATen threads (default: one per hardware
// thread). Debian's LibTorch otherwise starts with a single thread, which would
// hide every parallel loop. All other flags go to Google Benchmark.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Removes `--threads N` / `--threads=N` from argv and returns N, or
// `fallback` when the flag is absent. Exits on a malformed value.
int take_threads_flag(int& argc, char** argv, int fallback) {
  int threads = fallback;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const char* value = nullptr;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      value = argv[++i];
    } else if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      value = argv[i] + 10;
    } else {
      rest.push_back(argv[i]);
      continue;
    }
    char* end = nullptr;
    threads = static_cast<int>(std::strtol(value, &end, 10));
    if (*end != '\0' || threads < 1) {
      std::cerr << "--threads needs a positive integer, got '" << value << "'\n";
      std::exit(2);
    }
  }
  argc = static_cast<int>(rest.size());
  std::copy(rest.begin(), rest.end(), argv);
  return threads;
}

}  // namespace

int main(int argc, char** argv) {
  const int hardware_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(take_threads_flag(argc, argv, hardware_threads));
  benchmark::AddCustomContext("aten_threads", std::to_string(at::get_num_threads()));

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
