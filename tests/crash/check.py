#!/usr/bin/env python3
"""Invariants of the crash campaign (tests/crash/campaign.sh), read straight
from the SQLite stores of its work folder, read-only, while the servers run.

    check.py WORK trial|final [SRV_DIR]

WORK holds the laptops A1.db (syncs to the server) and B1.db (syncs to the
relay), the server store srv/hoso.db and the relay store relay/hoso.db, and
the harness's own records:
  acked-acts.txt   "LAPTOP HASH": events whose `hoso act`/`hoso receive`
                   exited 0 (the officer saw the step succeed)
  sync-acks.txt    "LAPTOP STORE_ID ACKED": what `hoso sync` exited 0 with

trial: nothing acknowledged is lost, nothing is held twice, no gap, no
quarantine, every receipt a laptop keeps (and every acked a sync printed) is
covered by the store that signed it with exactly the laptop's events.
final: the same, and every laptop's events and attachments are on the server
(and B1's on the relay), nothing else is, and no partial attachment is left.
SRV_DIR replaces srv/ (the self-test points it at a damaged copy).
Prints one line per broken invariant on stderr and exits 1.
"""
import os
import sqlite3
import sys

work, mode = sys.argv[1], sys.argv[2]
srv_dir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(work, "srv")
errors = []


def err(msg):
    errors.append(msg)


def db(path):
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    c.execute("PRAGMA busy_timeout = 10000")
    return c


def meta(c, key):
    r = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if r is None:
        return ""
    return r[0].decode() if isinstance(r[0], bytes) else str(r[0])


LAPTOPS = {"A1": "srv", "B1": "relay"}
lap = {n: db(os.path.join(work, f"{n}.db")) for n in LAPTOPS}
stores = {"srv": db(os.path.join(srv_dir, "hoso.db")), "relay": db(os.path.join(work, "relay", "hoso.db"))}
# A snapshot of each store in one read transaction, so a server writing
# meanwhile cannot make two queries disagree; the laptops' first, so every
# receipt read is older than the servers' state it is checked against.
for c in list(lap.values()) + list(stores.values()):
    c.execute("BEGIN")
dev_of = {n: meta(c, "device_cert") for n, c in lap.items()}
for c in lap.values():
    c.execute("SELECT count(*) FROM receipts").fetchone()
store_by_id = {meta(c, "store_id"): name for name, c in stores.items()}


def log_of(c, device):
    """seq -> hash of a device's events in a store."""
    return {seq: h for h, seq in c.execute("SELECT hash, seq FROM events WHERE device = ?", (device,))}


own = {n: log_of(c, dev_of[n]) for n, c in lap.items()}

# Every store: no event twice, no gap in any device's log, watermarks that
# match the events, nothing quarantined (every event here is well signed and
# authorised).
for name, c in list(lap.items()) + list(stores.items()):
    rows, hashes, slots = c.execute(
        "SELECT count(*), count(DISTINCT hash), count(DISTINCT device || ':' || seq) FROM events").fetchone()
    if not rows == hashes == slots:
        err(f"{name}: {rows} events, {hashes} distinct hashes, {slots} distinct (device, seq): something held twice")
    for dev, lo, hi, n in c.execute("SELECT device, min(seq), max(seq), count(*) FROM events GROUP BY device"):
        if lo != 1 or hi != n:
            err(f"{name}: device {dev[:16]} holds {n} events with seq {lo}..{hi}: a gap")
    q = c.execute("SELECT count(*) FROM events WHERE quarantine IS NOT NULL").fetchone()[0]
    if q:
        err(f"{name}: {q} quarantined events")
    for dev, wm, top in c.execute(
            "SELECT d.device, d.seq, (SELECT max(seq) FROM events e WHERE e.device = d.device) FROM devices d"):
        if top is not None and wm != top:
            err(f"{name}: watermark of {dev[:16]} is {wm}, its events end at {top}")

# Acknowledged steps stay on the laptop that signed them.
acts = {n: [] for n in LAPTOPS}
path = os.path.join(work, "acked-acts.txt")
if os.path.exists(path):
    for line in open(path):
        n, h = line.split()
        acts[n].append(h)
for n, hs in acts.items():
    held = set(own[n].values())
    lost = [h for h in hs if h not in held]
    for h in lost[:5]:
        err(f"{n}: acknowledged event {h[:16]} lost")
    if len(lost) > 5:
        err(f"{n}: {len(lost)} acknowledged events lost in all")

# Whatever a server acknowledged (a receipt the laptop keeps, an acked a
# sync printed) is held there: the laptop's very events, seq 1..acked.
acks = []
for n, c in lap.items():
    for sid, acked in c.execute("SELECT server_store, max(acked) FROM receipts GROUP BY server_store"):
        sid = sid.decode() if isinstance(sid, bytes) else sid
        acks.append((n, sid, acked, "receipt"))
path = os.path.join(work, "sync-acks.txt")
if os.path.exists(path):
    for line in open(path):
        n, sid, acked = line.split()
        acks.append((n, sid, int(acked), "sync exit 0"))
for n, sid, acked, what in acks:
    s = store_by_id.get(sid)
    if s is None:
        # A store that was replaced (the campaign never restores one): a lost store.
        err(f"{n}: {what} from an unknown store {sid[:16]} (acked {acked})")
        continue
    held = log_of(stores[s], dev_of[n])
    missing = [q for q in range(1, acked + 1) if q not in held]
    if missing:
        err(f"{n}: {s} acknowledged up to {acked} ({what}) but lacks seq {missing[0]}"
            f"{'..' + str(missing[-1]) if len(missing) > 1 else ''}")
    differ = [q for q in range(1, acked + 1) if q in held and held[q] != own[n].get(q)]
    if differ:
        err(f"{n}: {s} holds other events than the laptop at seq {differ[:5]}")

# A server never holds an event of a laptop that the laptop lost.
for n in LAPTOPS:
    for s, c in stores.items():
        extra = set(log_of(c, dev_of[n]).values()) - set(own[n].values())
        if extra:
            err(f"{s} holds {len(extra)} events of {n} that {n} does not")

if mode == "final":
    srv = stores["srv"]
    for n in LAPTOPS:
        on_srv = log_of(srv, dev_of[n])
        if on_srv != own[n]:
            err(f"{n}: the server holds {len(on_srv)} of its events, the laptop {len(own[n])}")
    on_relay = log_of(stores["relay"], dev_of["B1"])
    if on_relay != own["B1"]:
        err(f"B1: the relay holds {len(on_relay)} of its events, the laptop {len(own['B1'])}")
    total = srv.execute("SELECT count(*) FROM events").fetchone()[0]
    want = sum(len(o) for o in own.values())
    if total != want:
        err(f"the server holds {total} events, the laptops signed {want}")
    srv_att = dict(srv.execute("SELECT hash, size FROM attachments"))
    for n, c in lap.items():
        for h, size in c.execute("SELECT hash, size FROM attachments"):
            if srv_att.get(h) != size:
                err(f"{n}: attachment {h[:16]} ({size} bytes) not on the server")
    relay_att = dict(stores["relay"].execute("SELECT hash, size FROM attachments"))
    for h, size in lap["B1"].execute("SELECT hash, size FROM attachments"):
        if relay_att.get(h) != size:
            err(f"B1: attachment {h[:16]} ({size} bytes) not on the relay")
    for name, c in list(lap.items()) + list(stores.items()):
        p = c.execute("SELECT count(*) FROM attachments_partial").fetchone()[0]
        if p:
            err(f"{name}: {p} partial attachments left")

for e in errors:
    print("check: " + e, file=sys.stderr)
if not errors:
    print(" ".join(f"{n}={len(own[n])}" for n in LAPTOPS) + " " +
          " ".join(f"{s}={c.execute('SELECT count(*) FROM events').fetchone()[0]}" for s, c in stores.items()))
sys.exit(1 if errors else 0)
