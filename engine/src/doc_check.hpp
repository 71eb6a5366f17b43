// Strict reading of JSON documents that people author (procedures, calendars).
//
// SPEC §3: a missing, mistyped or unknown key is an error that names it, and
// keys starting with `x_` are extensions that readers ignore. Authors fix
// these files by hand, so every error carries the full path of the offending
// key (`steps.review.hours: expected an integer`, `fields[0].type: missing`)
// and has code Errc::bad_format. Only integers are accepted where numbers are
// expected: a float such as 3.0 or 1e2 is refused so that a signed document
// has one obvious meaning.
//
// Nothing here throws; a document built in memory with invalid UTF-8 still
// produces a readable message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hoso/crypto/result.hpp"

namespace hoso::engine::doc {

using crypto::Errc;
using crypto::Error;
using crypto::Result;
using crypto::Status;
using json = nlohmann::json;

// Path of `key` inside the value at `parent`: `parent.key`, or `parent["a b"]`
// when the key is not a plain identifier (so a path is never ambiguous).
// The root has the empty path; its keys appear bare (`steps`).
std::string key_path(std::string_view parent, std::string_view key);
// Path of element `i` of the array at `parent`: `parent[i]`.
std::string index_path(std::string_view parent, std::size_t i);

// Errc::bad_format with message "<path>: <what>" ("document: <what>" at the root).
Error error_at(std::string_view path, std::string_view what);

// The JSON type name used in messages ("a string", "an integer", ...).
std::string describe(const json& v);

// Type checks of one value whose path the caller knows (array elements).
Result<std::string> as_string(const json& v, std::string_view path);
// Integers only: floats and unsigned values above INT64_MAX are refused.
Result<int64_t> as_integer(const json& v, std::string_view path);

// True for [a-z][a-z0-9_]* (names of steps, actions, fields and roles).
bool is_name(std::string_view s);

// A view of one JSON object of the document; `json` must outlive it.
class Object {
 public:
  // Fails (naming `path`) unless `v` is an object.
  static Result<Object> open(const json& v, std::string path);

  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const { return key_path(path_, key); }
  bool has(std::string_view key) const;
  const json& raw() const { return *v_; }

  // Refuses the first key (in key order) that is neither in `known` nor an
  // `x_` extension: "<path>.<key>: unknown key".
  Status only(std::initializer_list<std::string_view> known) const;

  // Required keys fail with "<path>.<key>: missing" when absent and
  // "<path>.<key>: expected <type>" when present with another type (null
  // included). Optional keys return nullopt/nullptr when absent but are just
  // as strict about the type when present.
  Result<std::string> req_string(std::string_view key) const;
  Result<std::optional<std::string>> opt_string(std::string_view key) const;
  // Also refuses a value outside [min, max], naming the bounds.
  Result<int64_t> req_int(std::string_view key, int64_t min, int64_t max) const;
  Result<std::optional<int64_t>> opt_int(std::string_view key, int64_t min, int64_t max) const;
  Result<bool> opt_bool(std::string_view key, bool absent) const;
  Result<const json*> req_array(std::string_view key) const;
  Result<const json*> opt_array(std::string_view key) const;  // nullptr when absent
  Result<const json*> req_object(std::string_view key) const;

 private:
  Object(const json* v, std::string path) : v_(v), path_(std::move(path)) {}
  const json* find(std::string_view key) const;
  Result<const json*> typed(std::string_view key, bool required, json::value_t type) const;

  const json* v_;
  std::string path_;
};

}  // namespace hoso::engine::doc
