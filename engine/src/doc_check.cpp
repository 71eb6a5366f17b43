#include "doc_check.hpp"

#include <limits>

namespace hoso::engine::doc {

namespace {

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// Quoted and escaped; `replace` keeps a message printable even when a
// document built in memory holds invalid UTF-8 (dump would throw otherwise).
std::string quoted(std::string_view s) {
  return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

const char* type_name(json::value_t t) {
  switch (t) {
    case json::value_t::string: return "a string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a value";
  }
}

}  // namespace

std::string key_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (is_identifier(key)) {
    if (!out.empty()) out += '.';
    out += key;
  } else {
    out += '[';
    out += quoted(key);
    out += ']';
  }
  return out;
}

std::string index_path(std::string_view parent, std::size_t i) {
  std::string out(parent);
  out += '[';
  out += std::to_string(i);
  out += ']';
  return out;
}

Error error_at(std::string_view path, std::string_view what) {
  std::string msg = path.empty() ? std::string("document") : std::string(path);
  msg += ": ";
  msg += what;
  return crypto::make_error(Errc::bad_format, std::move(msg));
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::number_float: return "a float";
    case json::value_t::discarded: return "nothing";
    default: return type_name(v.type());
  }
}

static Error expected(const json& v, std::string_view path, const char* what) {
  return error_at(path, std::string("expected ") + what + ", got " + describe(v));
}

Result<std::string> as_string(const json& v, std::string_view path) {
  if (!v.is_string()) return expected(v, path, "a string");
  return v.get_ref<const std::string&>();
}

Result<int64_t> as_integer(const json& v, std::string_view path) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return error_at(path, "integer out of range");
    }
    return static_cast<int64_t>(u);
  }
  return expected(v, path, "an integer");
}

bool is_name(std::string_view s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  for (const char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Result<Object> Object::open(const json& v, std::string path) {
  if (!v.is_object()) return expected(v, path, "an object");
  return Object(&v, std::move(path));
}

const json* Object::find(std::string_view key) const {
  const auto it = v_->find(std::string(key));
  return it == v_->end() ? nullptr : &*it;
}

bool Object::has(std::string_view key) const { return find(key) != nullptr; }

Status Object::only(std::initializer_list<std::string_view> known) const {
  for (const auto& item : v_->items()) {
    const std::string& key = item.key();
    if (key.rfind("x_", 0) == 0) continue;
    bool found = false;
    for (const auto k : known) found = found || k == key;
    if (!found) return error_at(path_of(key), "unknown key");
  }
  return {};
}

Result<const json*> Object::typed(std::string_view key, bool required, json::value_t type) const {
  const json* v = find(key);
  if (v == nullptr) {
    if (required) return error_at(path_of(key), "missing");
    return static_cast<const json*>(nullptr);
  }
  if (v->type() != type) return expected(*v, path_of(key), type_name(type));
  return v;
}

Result<std::string> Object::req_string(std::string_view key) const {
  auto v = typed(key, true, json::value_t::string);
  if (!v) return v.error();
  return (*v)->get_ref<const std::string&>();
}

Result<std::optional<std::string>> Object::opt_string(std::string_view key) const {
  auto v = typed(key, false, json::value_t::string);
  if (!v) return v.error();
  if (*v == nullptr) return std::optional<std::string>();
  return std::optional<std::string>((*v)->get_ref<const std::string&>());
}

Result<std::optional<int64_t>> Object::opt_int(std::string_view key, int64_t min,
                                               int64_t max) const {
  const json* v = find(key);
  if (v == nullptr) return std::optional<int64_t>();
  const std::string path = path_of(key);
  auto n = as_integer(*v, path);
  if (!n) return n.error();
  if (*n < min || *n > max) {
    // A bound at the end of the int64_t range means "no bound" to an author.
    const std::string rule =
        max == std::numeric_limits<int64_t>::max()
            ? "must be at least " + std::to_string(min)
            : "must be between " + std::to_string(min) + " and " + std::to_string(max);
    return error_at(path, rule + ", got " + std::to_string(*n));
  }
  return std::optional<int64_t>(*n);
}

Result<int64_t> Object::req_int(std::string_view key, int64_t min, int64_t max) const {
  auto n = opt_int(key, min, max);
  if (!n) return n.error();
  if (!n->has_value()) return error_at(path_of(key), "missing");
  return **n;
}

Result<bool> Object::opt_bool(std::string_view key, bool absent) const {
  auto v = typed(key, false, json::value_t::boolean);
  if (!v) return v.error();
  if (*v == nullptr) return absent;
  return (*v)->get<bool>();
}

Result<const json*> Object::req_array(std::string_view key) const {
  return typed(key, true, json::value_t::array);
}

Result<const json*> Object::opt_array(std::string_view key) const {
  return typed(key, false, json::value_t::array);
}

Result<const json*> Object::req_object(std::string_view key) const {
  return typed(key, true, json::value_t::object);
}

}  // namespace hoso::engine::doc
