#pragma once
// The PEM files of the server's TLS settings, read and checked at start: a
// certificate that has expired (or is not valid yet), a key that is not the
// certificate's, or a client CA file without a certificate would let the
// server start and then fail every handshake with nothing in its log.
#include <string>

#include "server/server_config.h"

namespace roiserve::server {

struct TlsFiles {
  std::string certificate_chain;
  std::string private_key;
  std::string client_ca;  // empty: clients present no certificate
};

// Throws std::runtime_error naming the file and what is wrong with it.
TlsFiles read_tls_files(const TlsConfig& tls);

}  // namespace roiserve::server
