// roiserve-server's YAML config: every key read, typos refused, paths
// resolved against the file, ranges checked.
#include <gtest/gtest.h>

#include <fstream>

#include "detector/model/device.h"
#include "server/server_config.h"

namespace roiserve::server {
namespace {

class ServerConfigFile : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& yaml) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("roiserve-config-" + std::to_string(::getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
    const auto file = dir / "server.yaml";
    std::ofstream(file) << yaml;
    return file;
  }
  std::string error_of(const std::string& yaml) {
    try {
      validate_server_config(read_server_config(write(yaml)));
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "accepted";
  }
};

TEST_F(ServerConfigFile, MetricsListenIsTheOldNameOfHttpListen) {
  EXPECT_EQ(read_server_config(write("metrics_listen: 127.0.0.1:9191\n")).http_listen, "127.0.0.1:9191");
  EXPECT_EQ(read_server_config(write("metrics_listen: 127.0.0.1:9191\nhttp_listen: 127.0.0.1:9292\n")).http_listen,
            "127.0.0.1:9292");
}

TEST_F(ServerConfigFile, EveryKeyIsRead) {
  const auto file = write(R"(
listen: 127.0.0.1:6000
http_listen: ""
http_threads: 5
max_connection_age_s: 300
max_connection_age_grace_s: 20
threads: 3
device: cpu
default_model: b
shutdown_delay_s: 1
shutdown_grace_s: 2.5
log_level: debug
log_format: json
ports_file: ports.json
ab_report: eval-out
batching: {max_batch_size: 8, max_queue_delay_ms: 1.5, max_queue_size: 10}
models:
  - {name: a, path: bundles/a}
  - {name: b, path: /abs/b, batching: {max_batch_size: 2}}
limits: {max_message_bytes: 2048, max_image_pixels: 100, max_detections: 5,
         max_compare_variants: 3, max_concurrent_streams: 4, max_stream_in_flight: 2}
tls: {cert: c.pem, key: k.pem, client_ca: ca.pem}
auth: {token_file: tokens, admin_token_file: admin}
)");
  const ServerConfig config = read_server_config(file);
  const auto dir = file.parent_path();
  EXPECT_EQ(config.listen, "127.0.0.1:6000");
  EXPECT_EQ(config.http_listen, "");
  EXPECT_EQ(config.http_threads, 5);
  EXPECT_EQ(config.max_connection_age_s, 300);
  EXPECT_EQ(config.max_connection_age_grace_s, 20);
  EXPECT_EQ(config.threads, 3);
  EXPECT_EQ(config.default_model, "b");
  EXPECT_EQ(config.shutdown_delay_s, 1.0);
  EXPECT_EQ(config.shutdown_grace_s, 2.5);
  EXPECT_EQ(config.log_format, "json");
  EXPECT_EQ(config.ports_file, dir / "ports.json");
  EXPECT_EQ(config.ab_report, dir / "eval-out");
  ASSERT_EQ(config.models.size(), 2u);
  EXPECT_EQ(config.models[0].path, dir / "bundles/a");
  EXPECT_EQ(config.models[0].batching.max_batch_size, 8);
  EXPECT_EQ(config.models[0].batching.max_queue_delay_ms, 1.5);
  EXPECT_EQ(config.models[1].path, "/abs/b");
  EXPECT_EQ(config.models[1].batching.max_batch_size, 2);
  EXPECT_EQ(config.models[1].batching.max_queue_size, 10);  // the file's default
  EXPECT_EQ(config.limits.max_message_bytes, 2048u);
  EXPECT_EQ(config.limits.max_stream_in_flight, 2);
  EXPECT_EQ(config.tls.client_ca, dir / "ca.pem");
  EXPECT_EQ(config.auth.admin_token_file, dir / "admin");
  EXPECT_NO_THROW(validate_server_config(config));
}

TEST_F(ServerConfigFile, TyposAreErrorsNamingTheKey) {
  EXPECT_NE(error_of("listne: x\n").find("unknown key 'listne'"), std::string::npos);
  EXPECT_NE(error_of("models: [{path: a, batchign: {}}]\n").find("models[0].batchign"),
            std::string::npos);
  EXPECT_NE(error_of("limits: {max_pixels: 3}\n").find("limits.max_pixels"), std::string::npos);
  EXPECT_NE(error_of("threads: many\n").find("'threads' has the wrong type"), std::string::npos);
}

TEST_F(ServerConfigFile, OutOfRangeSettingsAreRefused) {
  const std::string model = "models: [{path: a}]\n";
  EXPECT_EQ(error_of(model), "accepted");
  EXPECT_NE(error_of(model + "batching: {max_batch_size: 0}\n").find("max_batch_size"),
            std::string::npos);
  EXPECT_NE(error_of(model + "limits: {max_image_pixels: 0}\n").find("max_image_pixels"),
            std::string::npos);
  EXPECT_NE(error_of(model + "tls: {cert: a.pem}\n").find("both 'tls.cert' and 'tls.key'"),
            std::string::npos);
  EXPECT_NE(error_of(model + "log_level: loud\n").find("log_level"), std::string::npos);
  EXPECT_NE(error_of(model + "http_threads: 0\n").find("'http_threads' is 0; it must be in 1..1024"),
            std::string::npos);
  EXPECT_NE(error_of("models: [{name: x, path: a}, {name: x, path: b}]\n")
                .find("two models are named 'x'"),
            std::string::npos);
  EXPECT_NE(error_of("threads: 1\n").find("no model to serve"), std::string::npos);
}

TEST_F(ServerConfigFile, DevicesAreReadPerModelAndChecked) {
  const ServerConfig config = read_server_config(write(R"(
device: cpu
models:
  - {path: a}
  - {path: b, device: cuda:1}
)"));
  EXPECT_EQ(config.device, "cpu");
  ASSERT_EQ(config.models.size(), 2u);
  EXPECT_EQ(config.models[0].device, "");  // the server's
  EXPECT_EQ(config.models[1].device, "cuda:1");

  const std::string model = "models: [{path: a}]\n";
  const std::string expected = "is not a device: expected cpu, cuda or cuda:N";
  EXPECT_NE(error_of(model + "device: tpu\n").find("'device': 'tpu' " + expected),
            std::string::npos)
      << error_of(model + "device: tpu\n");
  EXPECT_NE(error_of(model + "device: cuda:x\n").find("'device': 'cuda:x' " + expected),
            std::string::npos);
  const std::string per_model = error_of("models: [{path: a, device: gpu}]\n");
  EXPECT_NE(per_model.find("the device of "), std::string::npos) << per_model;
  EXPECT_NE(per_model.find("'gpu' " + expected), std::string::npos) << per_model;
  EXPECT_EQ(error_of(model + "device: cpu\n"), "accepted");
  EXPECT_EQ(error_of("models: [{path: a, device: cpu}]\n"), "accepted");

  bool cuda_usable = true;
  try {
    detector::check_device_available(c10::Device(c10::kCUDA, 0));
  } catch (const std::invalid_argument&) {
    cuda_usable = false;
  }
  if (!cuda_usable) {
    // A GPU this build or machine lacks stops the start like any bad setting.
    const std::string server_wide = error_of(model + "device: cuda\n");
    EXPECT_NE(server_wide.find("'device': device cuda:0: "), std::string::npos) << server_wide;
    EXPECT_NE(server_wide.find("CUDA"), std::string::npos) << server_wide;
    const std::string own = error_of("models: [{path: a, device: cuda}]\n");
    EXPECT_NE(own.find("the device of "), std::string::npos) << own;
    EXPECT_NE(own.find(": device cuda:0: "), std::string::npos) << own;
  }
}

}  // namespace
}  // namespace roiserve::server
