// Procedure documents as provincial IT writes them (engine::parse_procedure)
// and the form values an officer types against them (validate_fields).
#include "fuzz_common.hpp"
#include "hoso/crypto/canonical.hpp"
#include "hoso/engine/procedure.hpp"

using namespace hoso;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = crypto::parse_json_strict(fuzz::input(data, size));
  if (!j) return 0;
  auto p = engine::parse_procedure(*j);
  if (!p) return 0;
  HOSO_FUZZ_CHECK(p->steps.count(p->start) == 1);
  for (const auto& [name, s] : p->steps)
    for (const auto& [action, target] : s.actions)
      HOSO_FUZZ_CHECK(engine::is_terminal(target) || p->steps.count(target) == 1);
  // A signed procedure is stored canonically: what validates must have a form.
  HOSO_FUZZ_CHECK(crypto::canonical_json(p->doc).ok());
  (void)engine::validate_fields(*p, {}, true);
  (void)engine::validate_fields(*p, {}, false);
  std::map<std::string, std::string> typical, odd;
  for (const auto& f : p->fields) {
    typical[f.name] = f.options.empty() ? (f.type == "date" ? "2026-02-28" : "12.5") : f.options.front();
    odd[f.name] = f.type == "date" ? "2026-02-29" : "\xff";
  }
  (void)engine::validate_fields(*p, typical, true);
  (void)engine::validate_fields(*p, odd, false);
  odd["no_such_field"] = "x";
  (void)engine::validate_fields(*p, odd, false);
  return 0;
}
