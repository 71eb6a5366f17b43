// The validation that lives once: what the province has signed (certificates,
// revocations, procedures, calendars), and the checks and folds over a
// dossier's events that every store (laptop, relay, province) and every
// bundle verifier runs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hoso/engine/calendar.hpp"
#include "hoso/engine/event.hpp"
#include "hoso/engine/procedure.hpp"
#include "hoso/engine/trust.hpp"
#include "hoso/engine/workflow.hpp"

namespace hoso::engine {

class Registry {
 public:
  explicit Registry(crypto::PublicKey root) : trust_(root) {}

  // Adds a root-signed certificate, revocation, procedure or calendar after
  // checking it. Same bytes twice: no-op. A different document for the same
  // procedure version or calendar year: Errc::conflict.
  Status add(const crypto::SignedItem& item);

  const Trust& trust() const { return trust_; }
  const WorkCalendar& calendar() const { return calendar_; }
  // A procedure version; Errc::not_found if it was never published here.
  Result<const Procedure*> procedure(const std::string& code, int64_t version) const;
  // The newest version of a procedure.
  Result<const Procedure*> latest(const std::string& code) const;
  const std::map<std::string, std::map<int64_t, Procedure>>& procedures() const { return procs_; }
  const std::vector<crypto::SignedItem>& documents() const { return docs_; }

  // The rules a dossier is judged by (the version it was received under).
  Result<Rules> rules(const std::string& code, int64_t version) const;

 private:
  Trust trust_;
  WorkCalendar calendar_;
  std::map<std::string, std::map<int64_t, Procedure>> procs_;
  std::map<std::string, std::string> doc_ids_;  // "procedure:code:version" / "calendar:year" -> id
  std::vector<crypto::SignedItem> docs_;
};

// Signatures of an event: the actor's (an officer certificate) and the
// device's countersignature. Errc::not_found for an unknown certificate,
// Errc::bad_signature for a forgery.
Status check_signatures(const Event& e, const Registry& reg);

// The dossier's applied events, by hash.
using DossierEvents = std::map<std::string, Event>;

// The state of a dossier at (after) the event `hash`, folding the path from
// its first event.
Result<DossierState> state_after(const DossierEvents& events, const std::string& hash, const Registry& reg);

// Authorisation and workflow check of `e` against the dossier as it stands at
// e.prev (signatures already checked): the actor's certificate is valid, not
// revoked at e.at (with `arrived_at` for the 7-day grace), has the step's
// role and belongs to the holding unit; the device belongs to it too; the
// action exists at that step. Returns the state after e.
// `at_prev`, when given, must be the state after e.prev (what state_after
// would fold, e.g. a store's current state when e extends its head): it
// spares folding the whole path again for every event of a long batch.
Result<DossierState> check_event(const Event& e, const DossierEvents& events, const Registry& reg,
                                 std::optional<int64_t> arrived_at, const DossierState* at_prev = nullptr);

// The current state: follows the chain from the first event; at a fork the
// branch a leader's resolve kept, else the one whose first event has the
// earliest (device time, device id, sequence). Counts unresolved forks.
Result<DossierState> fold_current(const DossierEvents& events, const Registry& reg);
// The current chain, first event first.
std::vector<const Event*> current_chain(const DossierEvents& events);

// Dossier codes (Circular 01/2018/TT-VPCP art. 19): <unit>-<YYMMDD>-<NNNN>;
// desk slot N owns N000-N999 (slot 0 owns 0001-0999).
std::string dossier_code(const std::string& unit, const std::string& yymmdd, int64_t number);
bool slot_owns(int64_t slot, int64_t number);

}  // namespace hoso::engine
