#include "wire.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace hoso::sync::wire {

using crypto::make_error;

namespace {
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
}  // namespace

Result<std::unique_ptr<asio::ssl::context>> server_context(const crypto::SigningKey& key) {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, key.seed().data(), key.seed().size()));
  if (!pkey) return make_error(Errc::internal, "OpenSSL refused the ed25519 server key");
  std::unique_ptr<X509, X509Free> x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3650L * 86400);
  X509_set_pubkey(x.get(), pkey.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("hoso-server"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  if (X509_sign(x.get(), pkey.get(), nullptr) <= 0) return make_error(Errc::internal, "cannot sign the TLS certificate");
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  if (SSL_CTX_use_certificate(ctx->native_handle(), x.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx->native_handle(), pkey.get()) != 1)
    return make_error(Errc::internal, "cannot install the TLS certificate");
  return ctx;
}

std::unique_ptr<asio::ssl::context> client_context() {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_3_VERSION);
  // The X.509 is self-signed: the key inside is checked against the
  // province's server certificate once the handshake is done.
  ctx->set_verify_mode(asio::ssl::verify_none);
  return ctx;
}

Result<crypto::PublicKey> peer_key(Stream& s) {
  std::unique_ptr<X509, X509Free> x(SSL_get1_peer_certificate(s.native_handle()));
  if (!x) return make_error(Errc::unauthorized, "the server presented no certificate");
  EVP_PKEY* pk = X509_get0_pubkey(x.get());
  crypto::PublicKey out{};
  size_t len = out.size();
  if (!pk || EVP_PKEY_id(pk) != EVP_PKEY_ED25519 || EVP_PKEY_get_raw_public_key(pk, out.data(), &len) != 1 || len != 32)
    return make_error(Errc::unauthorized, "the server's TLS key is not an ed25519 key");
  return out;
}

Result<crypto::Bytes> exporter(Stream& s) {
  static const char label[] = "EXPORTER-hoso-v1-session";
  crypto::Bytes out(32);
  if (SSL_export_keying_material(s.native_handle(), out.data(), out.size(), label, sizeof label - 1, nullptr, 0, 0) != 1)
    return make_error(Errc::internal, "TLS exporter unavailable");
  return out;
}

namespace {
// Arms a deadline that cancels the socket; disarmed on destruction.
class Deadline {
 public:
  Deadline(Stream& s, std::chrono::seconds t) : timer_(s.get_executor()) {
    timer_.expires_after(t);
    timer_.async_wait([&s, fired = fired_](boost::system::error_code ec) {
      if (!ec) {
        *fired = true;
        boost::system::error_code ignore;
        s.lowest_layer().cancel(ignore);
      }
    });
  }
  ~Deadline() { timer_.cancel(); }
  bool fired() const { return *fired_; }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> fired_ = std::make_shared<bool>(false);
};
}  // namespace

awaitable<Result<Frame>> read_frame(Stream& s, std::chrono::seconds timeout, size_t max_frame) {
  Deadline d(s, timeout);
  unsigned char head[5];
  boost::system::error_code ec;
  co_await asio::async_read(s, asio::buffer(head, 5), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return make_error(Errc::io, d.fired() ? "timed out waiting for the peer" : "connection lost: " + ec.message());
  size_t len = size_t(head[0]) << 24 | size_t(head[1]) << 16 | size_t(head[2]) << 8 | head[3];
  if (len == 0 || len > max_frame)
    co_return make_error(Errc::bad_format, "frame of " + std::to_string(len) + " bytes exceeds the limit of " + std::to_string(max_frame));
  Frame f;
  f.type = head[4];
  f.payload.resize(len - 1);
  if (len > 1) {
    co_await asio::async_read(s, asio::buffer(f.payload), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return make_error(Errc::io, d.fired() ? "timed out in the middle of a frame" : "connection lost: " + ec.message());
  }
  co_return f;
}

awaitable<Status> write_frame(Stream& s, uint8_t type, std::string payload, std::chrono::seconds timeout) {
  std::string out;
  Status st = encode_frame(out, type, payload);
  if (!st) co_return st;
  Deadline d(s, timeout);
  boost::system::error_code ec;
  co_await asio::async_write(s, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return make_error(Errc::io, d.fired() ? "timed out sending to the peer" : "connection lost: " + ec.message());
  co_return Status{};
}

std::string message(const nlohmann::json& header, std::string_view tail) {
  std::string h = header.dump();
  std::string out;
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((h.size() >> (8 * i)) & 0xff));
  out += h;
  out.append(tail);
  return out;
}

Result<std::pair<nlohmann::json, std::string_view>> parse_message(std::string_view p) {
  if (p.size() < 4) return make_error(Errc::bad_format, "message too short");
  size_t n = size_t(static_cast<unsigned char>(p[0])) << 24 | size_t(static_cast<unsigned char>(p[1])) << 16 |
             size_t(static_cast<unsigned char>(p[2])) << 8 | static_cast<unsigned char>(p[3]);
  if (n > p.size() - 4 || n > (1u << 20)) return make_error(Errc::bad_format, "message header out of bounds");
  auto j = nlohmann::json::parse(p.substr(4, n), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(Errc::bad_format, "message header is not a JSON object");
  return std::pair<nlohmann::json, std::string_view>{std::move(j), p.substr(4 + n)};
}

void put_record(std::string& out, int64_t arrived_at, std::string_view bytes) {
  auto u = static_cast<uint64_t>(arrived_at);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((bytes.size() >> (8 * i)) & 0xff));
  out.append(bytes);
}

Result<std::vector<std::pair<int64_t, std::string>>> records(std::string_view d) {
  std::vector<std::pair<int64_t, std::string>> out;
  size_t pos = 0;
  while (pos < d.size()) {
    if (d.size() - pos < 12) return make_error(Errc::bad_format, "truncated batch record");
    uint64_t at = 0;
    for (int i = 0; i < 8; ++i) at = at << 8 | static_cast<unsigned char>(d[pos + i]);
    size_t len = 0;
    for (int i = 0; i < 4; ++i) len = len << 8 | static_cast<unsigned char>(d[pos + 8 + i]);
    pos += 12;
    if (len > d.size() - pos || len > crypto::kMaxItemBytes) return make_error(Errc::bad_format, "batch record out of bounds");
    out.emplace_back(static_cast<int64_t>(at), std::string(d.substr(pos, len)));
    pos += len;
  }
  return out;
}

}  // namespace hoso::sync::wire
