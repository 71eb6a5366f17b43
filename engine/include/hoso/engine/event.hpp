// Events: the signed, hash-chained facts of a dossier's life (PROTOCOL §9).
// An event is an envelope of type "event" whose body names the dossier, the
// previous event of that dossier (its per-dossier hash chain), the device and
// its gap-free sequence number (the per-device log), the acting officer's
// certificate, the action, the step, the device's wall time and a payload.
// The officer signs it; the device countersigns it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hoso/crypto/keys.hpp"
#include "hoso/crypto/result.hpp"
#include "hoso/crypto/signed_item.hpp"

namespace hoso::engine {

using crypto::Result;
using crypto::Status;

inline constexpr const char* kTypeEvent = "event";

struct Attachment {
  std::string name;  // file name as given, for people
  std::string hash;  // BLAKE2b-256 of the content, hex
  int64_t size = 0;
};

struct EventBody {
  std::string dossier;  // dossier code
  std::string prev;     // hex hash of the previous event of the dossier; "" for its first
  std::string device;   // device certificate id
  int64_t seq = 0;      // device sequence, from 1, gap-free
  std::string actor;    // officer certificate id
  std::string action;
  std::string step;     // the step the action is taken at
  int64_t at = 0;       // device wall time, unix seconds
  // Action data; keys: procedure, version, unit, applicant (receive); fields
  // (receive, amend); attachments; note; until (extend); keep (resolve).
  nlohmann::json payload = nlohmann::json::object();

  std::string note() const;
  std::vector<Attachment> attachments() const;
  std::map<std::string, std::string> fields() const;
};

struct Event {
  crypto::SignedItem item;
  EventBody body;
  std::string hash;  // hex id of the envelope
};

nlohmann::json event_body_json(const EventBody& b);
Result<Event> sign_event(const EventBody& body, const crypto::SigningKey& officer, const crypto::SigningKey& device);
// Structure only (keys, types, lengths); signatures are the caller's business.
Result<Event> read_event(const crypto::SignedItem& item);

}  // namespace hoso::engine
