#include "detector/train/trainer.h"

#include <ATen/ATen.h>
#include <sys/resource.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "detector/bundle/model_bundle.h"
#include "detector/data/random.h"

namespace roiserve::detector {
namespace {

constexpr const char* kCheckpointFile = "checkpoint.pt";
constexpr double kLossSmoothing = 0.05;  // running losses: exponential average over ~20 steps
constexpr size_t kPrefetchDepth = 2;

struct Batch {
  std::vector<at::Tensor> images;
  std::vector<InstanceTargets> targets;
};

Batch make_batch(const TrainingSource& source, const TrainerOptions& options, int64_t iteration) {
  Batch batch;
  for (int64_t i = 0; i < options.batch_size; ++i) {
    const int64_t index = iteration * options.batch_size + i;
    TrainingExample example = source.example(index);
    const uint64_t coin = Random::mix64(options.seed ^ Random::mix64(static_cast<uint64_t>(index)));
    if (options.horizontal_flip && (coin & 1u)) example = flip_horizontally(example);
    batch.images.push_back(example.image);
    batch.targets.push_back(example.targets);
  }
  return batch;
}

// Builds the batches of iterations [first, last) on a background thread, a
// few ahead of the training step.
class Prefetcher {
 public:
  Prefetcher(const TrainingSource& source, const TrainerOptions& options, int64_t first,
             int64_t last)
      : thread_([this, &source, &options, first, last] {
          for (int64_t it = first; it < last; ++it) {
            Batch batch;
            std::exception_ptr error;
            try {
              batch = make_batch(source, options, it);
            } catch (...) {
              error = std::current_exception();
            }
            std::unique_lock<std::mutex> lock(mutex_);
            space_.wait(lock, [this] { return stop_ || ready_.size() < kPrefetchDepth; });
            if (stop_) return;
            ready_.push_back({std::move(batch), error});
            available_.notify_one();
            if (error) return;
          }
        }) {}

  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    thread_.join();
  }

  Batch next() {
    std::unique_lock<std::mutex> lock(mutex_);
    available_.wait(lock, [this] { return !ready_.empty(); });
    auto [batch, error] = std::move(ready_.front());
    ready_.pop_front();
    space_.notify_one();
    if (error) std::rethrow_exception(error);
    return batch;
  }

 private:
  std::mutex mutex_;
  std::condition_variable space_;
  std::condition_variable available_;
  std::deque<std::pair<Batch, std::exception_ptr>> ready_;
  bool stop_ = false;
  std::thread thread_;
};

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

std::string format_duration(double seconds) {
  const auto total = static_cast<int64_t>(seconds);
  char text[32];
  std::snprintf(text, sizeof(text), "%ld:%02ld:%02ld", static_cast<long>(total / 3600),
                static_cast<long>(total / 60 % 60), static_cast<long>(total % 60));
  return text;
}

void save_checkpoint(DetectorImpl& detector, torch::optim::SGD& optimizer, int64_t iteration,
                     double cpu_seconds, const std::filesystem::path& path) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model;
  detector.save(model);
  archive.write("model", model);
  torch::serialize::OutputArchive state;
  optimizer.save(state);
  archive.write("optimizer", state);
  archive.write("iteration", at::tensor(iteration));
  archive.write("cpu_seconds", at::tensor(cpu_seconds, at::kDouble));
  const std::filesystem::path partial = path.string() + ".partial";
  archive.save_to(partial.string());
  std::filesystem::rename(partial, path);  // a crash mid-write keeps the previous checkpoint
}

// Returns (iteration, cpu seconds) of the checkpoint.
std::pair<int64_t, double> load_checkpoint(DetectorImpl& detector, torch::optim::SGD& optimizer,
                                           const std::filesystem::path& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path.string());
  torch::serialize::InputArchive model;
  archive.read("model", model);
  detector.load(model);
  torch::serialize::InputArchive state;
  archive.read("optimizer", state);
  optimizer.load(state);
  at::Tensor iteration, cpu_seconds;
  archive.read("iteration", iteration);
  archive.read("cpu_seconds", cpu_seconds);
  return {iteration.item<int64_t>(), cpu_seconds.item<double>()};
}

void write_summary(const TrainerOptions& options, int64_t iterations, double cpu_seconds,
                   double wall_seconds, const std::map<std::string, double>& losses) {
  std::ofstream out(options.output_dir / "training.json");
  out << "{\n  \"name\": \"" << options.name << "\",\n  \"iterations\": " << iterations
      << ",\n  \"batch_size\": " << options.batch_size
      << ",\n  \"images\": " << iterations * options.batch_size << ",\n  \"seed\": " << options.seed
      << ",\n  \"cpu_seconds\": " << cpu_seconds
      << ",\n  \"wall_seconds_last_run\": " << wall_seconds << ",\n  \"final_losses\": {";
  bool first = true;
  for (const auto& [name, value] : losses) {
    out << (first ? "" : ",") << "\n    \"" << name << "\": " << value;
    first = false;
  }
  out << "\n  }\n}\n";
}

}  // namespace

double learning_rate_at(const OptimizerOptions& options, int64_t iteration) {
  double rate = options.learning_rate;
  for (int64_t step : options.decay_at) {
    if (iteration >= step) rate *= options.decay_factor;
  }
  if (iteration < options.warmup_iterations) {
    const double progress = static_cast<double>(iteration) / options.warmup_iterations;
    rate *= options.warmup_factor * (1 - progress) + progress;
  }
  return rate;
}

std::map<std::string, double> train(DetectorImpl& detector, const TrainingSource& source,
                                    const TrainerOptions& options) {
  std::filesystem::create_directories(options.output_dir);
  const TrainingPlan& plan = options.plan;
  const std::filesystem::path checkpoint = options.output_dir / kCheckpointFile;
  const bool resuming = std::filesystem::exists(checkpoint);
  if (plan.fresh_heads && !resuming) {
    at::manual_seed(options.seed);
    detector.reinitialize_heads(plan);
  }
  torch::optim::SGD optimizer(
      detector.trainable_parameters(plan),
      torch::optim::SGDOptions(options.optimizer.learning_rate)
          .momentum(options.optimizer.momentum)
          .weight_decay(options.optimizer.weight_decay));
  int64_t start = 0;
  double previous_cpu_seconds = 0;
  if (resuming) {
    std::tie(start, previous_cpu_seconds) = load_checkpoint(detector, optimizer, checkpoint);
    std::fprintf(stderr, "[%s] resuming from %s at iteration %ld\n", options.name.c_str(),
                 checkpoint.c_str(), static_cast<long>(start));
  }

  // Stage 2 keeps the shared backbone and RPN frozen: eval mode freezes
  // their norms too.
  detector.train();
  if (!plan.train_shared) {
    for (const auto& child : detector.named_children()) {
      if (child.key() == "backbone" || child.key() == "rpn") child.value()->eval();
    }
  }

  const bool interactive = isatty(STDERR_FILENO);
  const double cpu_at_start = process_cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  auto window_start = wall_start;
  int64_t window_iterations = 0;
  double seconds_per_iteration = 0;
  std::map<std::string, double> running;
  Prefetcher prefetcher(source, options, start, options.iterations);
  for (int64_t it = start; it < options.iterations; ++it) {
    at::manual_seed(options.seed * 1000003u + static_cast<uint64_t>(it));
    const double rate = learning_rate_at(options.optimizer, it);
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(rate);
    }
    const Batch batch = prefetcher.next();
    const auto losses = detector.losses(batch.images, batch.targets, plan);
    at::Tensor total = at::zeros({}, at::kFloat);
    for (const auto& [name, value] : losses) total = total + value;
    if (!std::isfinite(total.item<double>())) {
      throw std::runtime_error("training diverged at iteration " + std::to_string(it) +
                               " (loss is not finite); lower the learning rate or clip gradients");
    }
    optimizer.zero_grad();
    total.backward();
    if (options.optimizer.clip_grad_norm > 0) {
      torch::nn::utils::clip_grad_norm_(detector.trainable_parameters(plan),
                                        options.optimizer.clip_grad_norm);
    }
    optimizer.step();

    for (const auto& [name, value] : losses) {
      const double v = value.item<double>();
      auto [entry, inserted] = running.emplace(name, v);
      if (!inserted) entry->second += kLossSmoothing * (v - entry->second);
    }
    ++window_iterations;
    const int64_t done = it + 1;
    const bool last = done == options.iterations;
    if (done % options.log_every == 0 || last) {
      const auto now = std::chrono::steady_clock::now();
      const double window = std::chrono::duration<double>(now - window_start).count();
      seconds_per_iteration = window / window_iterations;
      window_start = now;
      window_iterations = 0;
      double sum = 0;
      std::string detail;
      for (const auto& [name, value] : running) {
        sum += value;
        char part[64];
        std::snprintf(part, sizeof(part), " %s %.3f", name.c_str(), value);
        detail += part;
      }
      std::fprintf(stderr, "%s[%s] %ld/%ld (%.1f%%) %.2f img/s eta %s lr %.5f loss %.3f |%s%s",
                   interactive ? "\r" : "", options.name.c_str(), static_cast<long>(done),
                   static_cast<long>(options.iterations), 100.0 * done / options.iterations,
                   options.batch_size / seconds_per_iteration,
                   format_duration(seconds_per_iteration * (options.iterations - done)).c_str(),
                   rate, sum, detail.c_str(), interactive && !last ? "" : "\n");
      std::fflush(stderr);
    }
    if (done % options.checkpoint_every == 0 || last) {
      save_checkpoint(detector, optimizer, done,
                      previous_cpu_seconds + process_cpu_seconds() - cpu_at_start, checkpoint);
      // The bundle follows the checkpoint, so a long run can be evaluated while it trains.
      save_bundle(detector, options.output_dir / "bundle");
    }
  }
  const double cpu_seconds = previous_cpu_seconds + process_cpu_seconds() - cpu_at_start;
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  detector.eval();
  write_summary(options, options.iterations, cpu_seconds, wall_seconds, running);
  return running;
}

}  // namespace roiserve::detector
