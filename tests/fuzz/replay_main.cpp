// A main for the fuzz targets where libFuzzer is not available (GCC builds,
// and so CI, which builds no clang tree):
//   fuzz_<name>_replay PATH...                   runs the target once on every
//       file of the directories or files given (the committed corpora and
//       regression cases)
//   fuzz_<name>_replay --mutate SECONDS [--seed N] PATH...  then, for SECONDS,
//       on random mutations of those files: a short blind fuzz run, without
//       libFuzzer's coverage guidance or ASan (scripts/fuzz.sh has both). An
//       input that crashes the target is written to ./crash-<pid> first; the
//       seed, printed at the start, repeats the run.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Input = std::vector<uint8_t>;

constexpr size_t kMaxInputBytes = 1 << 16;  // as scripts/fuzz.sh's -max_len

Input read_file(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  return Input((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
}

std::vector<Input> read_inputs(const std::vector<std::filesystem::path>& paths) {
  std::vector<Input> inputs;
  for (const std::filesystem::path& path : paths) {
    if (!std::filesystem::is_directory(path)) {
      inputs.push_back(read_file(path));
      continue;
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
      if (entry.is_regular_file()) inputs.push_back(read_file(entry.path()));
    }
  }
  return inputs;
}

// The input being run, for the crash handler.
const Input* current_input = nullptr;
char crash_file[64];

void save_crashing_input(int signal) {
  // Only async-signal-safe calls here.
  const int fd = open(crash_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0 && current_input != nullptr) {
    if (write(fd, current_input->data(), current_input->size()) < 0) _exit(128 + signal);
    close(fd);
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

// One random edit of the kinds libFuzzer makes.
void mutate_once(Input& input, const std::vector<Input>& corpus, std::mt19937_64& random) {
  auto below = [&random](size_t bound) { return static_cast<size_t>(random() % bound); };
  static constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
  switch (below(7)) {
    case 0:  // flip a bit
      if (!input.empty()) input[below(input.size())] ^= static_cast<uint8_t>(1u << below(8));
      break;
    case 1:  // a random byte
      if (!input.empty()) input[below(input.size())] = static_cast<uint8_t>(random());
      break;
    case 2:  // a boundary byte
      if (!input.empty()) input[below(input.size())] = kInteresting[below(sizeof(kInteresting))];
      break;
    case 3:  // insert a byte
      input.insert(input.begin() + static_cast<ptrdiff_t>(below(input.size() + 1)),
                   static_cast<uint8_t>(random()));
      break;
    case 4: {  // erase a range
      if (input.empty()) break;
      const size_t start = below(input.size());
      const size_t count = 1 + below(std::min<size_t>(input.size() - start, 64));
      input.erase(input.begin() + static_cast<ptrdiff_t>(start),
                  input.begin() + static_cast<ptrdiff_t>(start + count));
      break;
    }
    case 5:  // cut the tail
      if (!input.empty()) input.resize(below(input.size()));
      break;
    default: {  // splice in a piece of another input
      const Input& other = corpus[below(corpus.size())];
      if (other.empty()) break;
      const size_t start = below(other.size());
      const size_t count = 1 + below(std::min<size_t>(other.size() - start, 256));
      input.insert(input.begin() + static_cast<ptrdiff_t>(below(input.size() + 1)),
                   other.begin() + static_cast<ptrdiff_t>(start),
                   other.begin() + static_cast<ptrdiff_t>(start + count));
    }
  }
  if (input.size() > kMaxInputBytes) input.resize(kMaxInputBytes);
}

void run_mutations(const std::vector<Input>& corpus, double seconds, uint64_t seed) {
  std::printf("mutating for %.0f s, seed %llu\n", seconds, static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 random(seed);
  std::snprintf(crash_file, sizeof(crash_file), "crash-%d", static_cast<int>(getpid()));
  for (int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(signal, save_crashing_input);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  size_t runs = 0;
  Input input;
  current_input = &input;
  while (std::chrono::steady_clock::now() < end) {
    input = corpus[random() % corpus.size()];
    const size_t edits = 1 + random() % 8;
    for (size_t i = 0; i < edits; ++i) mutate_once(input, corpus, random);
    LLVMFuzzerTestOneInput(input.data(), input.size());
    ++runs;
  }
  std::printf("ran %zu mutated inputs\n", runs);
}

}  // namespace

int main(int argc, char** argv) {
  double mutate_seconds = 0;
  uint64_t seed = std::random_device{}();
  std::vector<std::filesystem::path> paths;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mutate") == 0 && i + 1 < argc) {
      mutate_seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      paths.emplace_back(argv[i]);
    }
  }
  const std::vector<Input> corpus = read_inputs(paths);
  if (corpus.empty()) {
    std::fprintf(stderr, "no inputs in the paths given\n");
    return 1;
  }
  for (const Input& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
  std::printf("replayed %zu inputs\n", corpus.size());
  if (mutate_seconds > 0) run_mutations(corpus, mutate_seconds, seed);
  return 0;
}
