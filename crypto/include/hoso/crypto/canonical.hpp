// Canonical JSON: the one byte encoding of every signed item (docs/PROTOCOL.md §2).
// It is RFC 8785 (JCS) restricted so that every JSON library agrees on it:
// objects with keys sorted by their bytes and ASCII-only keys, integers only in
// [-(2^53-1), 2^53-1], no floats, no insignificant whitespace, strings in UTF-8
// with the minimal escapes. Signatures and hashes are computed over these bytes.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hoso/crypto/result.hpp"

namespace hoso::crypto {

inline constexpr int64_t kMaxSafeInteger = 9007199254740991;  // 2^53 - 1

// Encodes a value canonically. Errors (Errc::bad_format) name the offending
// path: a float, an integer out of range, a non-ASCII key, invalid UTF-8.
Result<std::string> canonical_json(const nlohmann::json& value);

// Parses bytes that must already be canonical: any other spelling of the same
// value (spaces, key order, escapes, duplicate keys) is refused, so one value
// has exactly one hash. `max_depth` bounds nesting against hostile input.
Result<nlohmann::json> parse_canonical(std::string_view bytes, int max_depth = 32);

namespace detail {
// parse_canonical's definition, as the general parser and the encoder state
// it: parse any JSON, encode it, compare. parse_canonical reads the bytes in
// one pass instead and must agree with this on every input; it is here for
// the tests and fuzzers that check so, and for the error messages.
Result<nlohmann::json> parse_canonical_by_encoding(std::string_view bytes, int max_depth = 32);
}  // namespace detail

// Parses ordinary JSON as people write it (any spacing, key order), refusing
// duplicate keys, floats and invalid UTF-8. Errors carry the position.
Result<nlohmann::json> parse_json_strict(std::string_view text, int max_depth = 32);

}  // namespace hoso::crypto
