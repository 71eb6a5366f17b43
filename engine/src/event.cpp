#include "hoso/engine/event.hpp"

#include <set>

namespace hoso::engine {

using crypto::Errc;
using crypto::make_error;
using nlohmann::json;

std::string EventBody::note() const {
  auto it = payload.find("note");
  return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<Attachment> EventBody::attachments() const {
  std::vector<Attachment> out;
  auto it = payload.find("attachments");
  if (it == payload.end() || !it->is_array()) return out;
  for (const auto& a : *it)
    out.push_back({a.value("name", ""), a.value("hash", ""), a.value("size", int64_t{0})});
  return out;
}

std::map<std::string, std::string> EventBody::fields() const {
  std::map<std::string, std::string> out;
  auto it = payload.find("fields");
  if (it == payload.end() || !it->is_object()) return out;
  for (auto f = it->begin(); f != it->end(); ++f)
    if (f.value().is_string()) out[f.key()] = f.value().get<std::string>();
  return out;
}

json event_body_json(const EventBody& b) {
  return json{{"dossier", b.dossier}, {"prev", b.prev}, {"device", b.device}, {"seq", b.seq},
              {"actor", b.actor},     {"action", b.action}, {"step", b.step},   {"at", b.at},
              {"payload", b.payload}};
}

Result<Event> sign_event(const EventBody& body, const crypto::SigningKey& officer, const crypto::SigningKey& device) {
  auto item = crypto::sign_item(kTypeEvent, event_body_json(body), officer, &device);
  if (!item) return item.error();
  Event e{std::move(*item), body, {}};
  e.hash = e.item.id_hex();
  return e;
}

namespace {

crypto::Error bad(const std::string& m) { return make_error(Errc::bad_format, "event: " + m); }

bool is_hex64(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool is_token(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

Status check_payload(const json& p) {
  static const std::set<std::string> known = {"procedure", "version", "unit",  "applicant", "fields",
                                              "attachments", "note", "until", "keep"};
  if (!p.is_object()) return bad("payload is not an object");
  for (auto it = p.begin(); it != p.end(); ++it)
    if (!known.count(it.key())) return bad("payload: unknown key " + it.key());
  for (const char* k : {"procedure", "unit", "applicant", "note", "until"})
    if (p.contains(k) && !p[k].is_string()) return bad(std::string("payload.") + k + " is not a string");
  if (p.contains("version") && !p["version"].is_number_integer()) return bad("payload.version is not an integer");
  if (p.contains("keep") && !is_hex64(p["keep"])) return bad("payload.keep is not an event hash");
  if (p.contains("fields")) {
    if (!p["fields"].is_object()) return bad("payload.fields is not an object");
    for (auto f = p["fields"].begin(); f != p["fields"].end(); ++f)
      if (!f.value().is_string()) return bad("payload.fields." + f.key() + " is not a string");
  }
  if (p.contains("attachments")) {
    if (!p["attachments"].is_array()) return bad("payload.attachments is not an array");
    for (const auto& a : p["attachments"]) {
      if (!a.is_object() || a.size() != 3 || !a.contains("name") || !a["name"].is_string() || !is_hex64(a.value("hash", json())) ||
          !a.contains("size") || !a["size"].is_number_integer() || a["size"].get<int64_t>() < 0)
        return bad("payload.attachments holds a malformed entry");
    }
  }
  return {};
}

}  // namespace

Result<Event> read_event(const crypto::SignedItem& item) {
  if (item.type != kTypeEvent) return make_error(Errc::bad_format, "not an event (type " + item.type + ")");
  const json& j = item.body;
  static const std::set<std::string> keys = {"dossier", "prev", "device", "seq", "actor", "action", "step", "at", "payload"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!keys.count(it.key())) return bad("unknown key " + it.key());
  for (const auto& k : keys)
    if (!j.contains(k)) return bad("missing " + k);
  if (!j["dossier"].is_string() || j["dossier"].get<std::string>().empty() || j["dossier"].get<std::string>().size() > 64)
    return bad("dossier is not a dossier code");
  if (!j["prev"].is_string() || !(j["prev"].get<std::string>().empty() || is_hex64(j["prev"])))
    return bad("prev is not an event hash");
  if (!is_hex64(j["device"])) return bad("device is not a certificate id");
  if (!is_hex64(j["actor"])) return bad("actor is not a certificate id");
  if (!j["seq"].is_number_integer() || j["seq"].get<int64_t>() < 1) return bad("seq is not a positive integer");
  if (!j["at"].is_number_integer()) return bad("at is not an integer");
  if (!is_token(j["action"])) return bad("action is not an action name");
  if (!is_token(j["step"])) return bad("step is not a step name");
  Status st = check_payload(j["payload"]);
  if (!st) return st.error();
  if (!item.cosig) return bad("missing the device's countersignature");
  Event e;
  e.item = item;
  e.hash = item.id_hex();
  e.body.dossier = j["dossier"].get<std::string>();
  e.body.prev = j["prev"].get<std::string>();
  e.body.device = j["device"].get<std::string>();
  e.body.seq = j["seq"].get<int64_t>();
  e.body.actor = j["actor"].get<std::string>();
  e.body.action = j["action"].get<std::string>();
  e.body.step = j["step"].get<std::string>();
  e.body.at = j["at"].get<int64_t>();
  e.body.payload = j["payload"];
  return e;
}

}  // namespace hoso::engine
