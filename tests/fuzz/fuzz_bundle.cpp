// A dossier bundle handed to an auditor (engine::verify_bundle): any bytes in,
// a report out, never a crash. The root is the one the bundle's header names,
// so real bundles from any `hoso demo` verify and mutations go deep.
#include "fuzz_common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/store.hpp"

using namespace hoso;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bundle(fuzz::input(data, size));
  crypto::PublicKey root = fuzz::vector_root().public_key();
  std::string_view first(bundle);
  first = first.substr(0, first.find('\n'));
  if (auto h = crypto::parse_json_strict(first); h && h->is_object()) {
    auto r = h->find("root");
    if (r != h->end() && r->is_string())
      if (auto pk = crypto::fixed_from_hex<32>(r->get<std::string>()); pk) root = *pk;
  }
  auto rep = engine::verify_bundle(bundle, root);
  HOSO_FUZZ_CHECK(rep.ok() || !rep.errors.empty());
  return 0;
}
