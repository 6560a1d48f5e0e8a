#include "tools/client/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>

#include "tools/file_io/text_file.h"

namespace roiserve::tools {
namespace {

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  const size_t end = text.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

}  // namespace

std::shared_ptr<grpc::Channel> make_channel(const ConnectionOptions& options) {
  grpc::ChannelArguments arguments;
  // Responses with PNG masks can be large; the server bounds what it sends.
  arguments.SetMaxReceiveMessageSize(-1);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca.empty() && options.tls_cert.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions tls;
    if (!options.tls_ca.empty()) tls.pem_root_certs = read_text_file(options.tls_ca);
    if (!options.tls_cert.empty()) {
      tls.pem_cert_chain = read_text_file(options.tls_cert);
      tls.pem_private_key = read_text_file(options.tls_key);
    }
    credentials = grpc::SslCredentials(tls);
    if (!options.tls_server_name.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  return grpc::CreateCustomChannel(options.target, credentials, arguments);
}

CallSettings::CallSettings(const ConnectionOptions& options) {
  if (!options.token_file.empty()) {
    token_ = trimmed(read_text_file(options.token_file));
  } else if (const char* token = std::getenv("ROISERVE_TOKEN")) {
    token_ = trimmed(token);
  }
  if (options.deadline_ms > 0) deadline_ = std::chrono::milliseconds(options.deadline_ms);
}

void CallSettings::apply(grpc::ClientContext& context) const {
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  if (deadline_) context.set_deadline(std::chrono::system_clock::now() + *deadline_);
}

}  // namespace roiserve::tools
