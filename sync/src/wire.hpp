// Internal: the wire of the sync protocol — TLS contexts, frames with
// timeouts over an Asio SSL stream, batch records and message headers.
#pragma once

#include <utility>  // before Asio's awaitable.hpp with Boost 1.74 and g++ 12

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/result.hpp"
#include "hoso/crypto/signed_item.hpp"
#include "hoso/sync/frame.hpp"

namespace hoso::sync::wire {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Stream = asio::ssl::stream<tcp::socket>;
template <class T>
using awaitable = asio::awaitable<T>;

inline constexpr int kProtocolVersion = 1;
inline constexpr const char* kSessionDomain = "hoso-v1:session";
inline constexpr const char* kServerSessionDomain = "hoso-v1:session:server";
inline constexpr const char* kReceiptType = "receipt";

enum Msg : uint8_t {
  kHello = 1,
  kWelcome = 2,
  kPush = 3,
  kAck = 4,
  kPull = 5,
  kFeed = 6,
  kAttQuery = 7,
  kAttState = 8,
  kAttPut = 9,
  kAttGet = 10,
  kAttData = 11,
  kBye = 12,
  kError = 15,
};

// TLS 1.3 only. The server's certificate is a self-signed X.509 made in
// memory from its ed25519 key; clients check the key itself, not the X.509.
Result<std::unique_ptr<asio::ssl::context>> server_context(const crypto::SigningKey& key);
std::unique_ptr<asio::ssl::context> client_context();
// The raw ed25519 key the peer presented in the handshake.
Result<crypto::PublicKey> peer_key(Stream& s);
// 32 bytes of RFC 8446 exporter output, label "EXPORTER-hoso-v1-session".
Result<crypto::Bytes> exporter(Stream& s);

// Frames with a deadline: on expiry the socket is cancelled and the call
// fails with Errc::io "timed out".
awaitable<Result<Frame>> read_frame(Stream& s, std::chrono::seconds timeout, size_t max_frame = kMaxFrame);
awaitable<Status> write_frame(Stream& s, uint8_t type, std::string payload, std::chrono::seconds timeout);

// A message: [u32 length of JSON header][JSON header][binary tail].
std::string message(const nlohmann::json& header, std::string_view tail = {});
Result<std::pair<nlohmann::json, std::string_view>> parse_message(std::string_view payload);

// Batch records: [i64 arrived_at][u32 length][bytes], repeated.
void put_record(std::string& out, int64_t arrived_at, std::string_view bytes);
Result<std::vector<std::pair<int64_t, std::string>>> records(std::string_view data);

}  // namespace hoso::sync::wire
