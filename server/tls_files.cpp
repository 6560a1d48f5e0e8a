#include "server/tls_files.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>

#include "tools/file_io/text_file.h"

namespace roiserve::server {
namespace {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* object) const { Free(object); }
};
using Bio = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using Certificate = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using PrivateKey = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;

Bio memory_bio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM text; throws naming `path` when there is none.
Certificate first_certificate(const std::string& pem, const std::filesystem::path& path) {
  Certificate certificate(PEM_read_bio_X509(memory_bio(pem).get(), nullptr, nullptr, nullptr));
  if (!certificate) {
    throw std::runtime_error("the TLS file '" + path.string() + "' holds no PEM certificate");
  }
  return certificate;
}

std::string printed(const ASN1_TIME* time) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  char* text = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &text);
  return std::string(text, static_cast<size_t>(length));
}

void check_validity(const X509* certificate, const std::filesystem::path& path) {
  // X509_cmp_current_time: -1 (or 0, unreadable) when before now, 1 after.
  if (X509_cmp_current_time(X509_get0_notAfter(certificate)) <= 0) {
    throw std::runtime_error("the TLS certificate '" + path.string() + "' expired on " +
                             printed(X509_get0_notAfter(certificate)));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(certificate)) >= 0) {
    throw std::runtime_error("the TLS certificate '" + path.string() + "' is not valid before " +
                             printed(X509_get0_notBefore(certificate)));
  }
}

}  // namespace

TlsFiles read_tls_files(const TlsConfig& tls) {
  TlsFiles files{tools::read_text_file(tls.cert), tools::read_text_file(tls.key), ""};
  const Certificate certificate = first_certificate(files.certificate_chain, tls.cert);
  check_validity(certificate.get(), tls.cert);
  const PrivateKey key(
      PEM_read_bio_PrivateKey(memory_bio(files.private_key).get(), nullptr, nullptr, nullptr));
  if (!key) {
    throw std::runtime_error("the TLS key file '" + tls.key.string() + "' holds no PEM private key");
  }
  if (X509_check_private_key(certificate.get(), key.get()) != 1) {
    throw std::runtime_error("the TLS key '" + tls.key.string() + "' is not the key of the certificate '" +
                             tls.cert.string() + "'");
  }
  if (!tls.client_ca.empty()) {
    files.client_ca = tools::read_text_file(tls.client_ca);
    first_certificate(files.client_ca, tls.client_ca);
  }
  return files;
}

}  // namespace roiserve::server
