#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ from real items: the
test vectors (tests/vectors) and a kept `hoso demo` run.

  build/hoso demo --keep /tmp/demo
  for c in ...; do build/hoso export --db /tmp/demo/tanlap.db $c --out /tmp/demo/$c.bundle; done
  tests/fuzz/make_corpus.py /tmp/demo

Seeds are named by the hash of their content, so running it again only adds.
Needs the zstd command for batch seeds."""
import hashlib, json, os, sqlite3, struct, subprocess, sys, glob

here = os.path.dirname(os.path.abspath(__file__))
vectors = os.path.join(here, '..', 'vectors')
demo = sys.argv[1]


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(here, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), 'wb') as f:
        f.write(data)


def zstd(data):
    return subprocess.run(['zstd', '-q', '-3', '-c', '--content-size'], input=data, check=True,
                          capture_output=True).stdout


def frame(t, payload):
    return struct.pack('>I', len(payload) + 1) + bytes([t]) + payload


def message(header, tail=b''):
    h = json.dumps(header, separators=(',', ':')).encode()
    return struct.pack('>I', len(h)) + h + tail


def record(at, b):
    return struct.pack('>qI', at, len(b)) + b


# Real items: the vectors' and every signed thing a demo produced.
vector_items = [l for l in open(os.path.join(vectors, 'items.txt'), 'rb').read().split(b'\n') if l]
demo_files = sorted(glob.glob(os.path.join(demo, '*.cert')) + glob.glob(os.path.join(demo, '*.revocation')) +
                    glob.glob(os.path.join(demo, '*.signed')))
demo_items = [open(f, 'rb').read().strip() for f in demo_files]
db = sqlite3.connect(os.path.join(demo, 'province-server.db'))
events = [bytes(r[0]) for r in db.execute('SELECT bytes FROM events ORDER BY device, seq')]
stored_items = [bytes(r[0]) for r in db.execute('SELECT bytes FROM items')]
# Events of every action the demo took, plus a few of each device's first.
seen, some_events = set(), []
for e in events:
    action = json.loads(e)['body']['action']
    if action not in seen or len(some_events) < 12:
        seen.add(action)
        some_events.append(e)

# item: envelopes, events, canonical JSON accepted and refused.
for it in vector_items + demo_items + some_events:
    put('item', it)
canon = json.load(open(os.path.join(vectors, 'canonical.json')))
for c in canon['accept']:
    put('item', c['input'])
for c in canon['reject']:
    put('item', bytes.fromhex(c['hex']))
for k in sorted(glob.glob(os.path.join(demo, '*.key')))[:1] + sorted(glob.glob(os.path.join(demo, '*.key.pub')))[:1]:
    put('item', open(k, 'rb').read())
put('item', json.load(open(os.path.join(vectors, 'keys.json')))['public_key_file']['text'])

# trust: files of items as `hoso import` and `hoso publish` read them.
put('trust', b'\n'.join(vector_items) + b'\n')
for it in demo_items:
    put('trust', it + b'\n')
put('trust', b'\n'.join(it for it in stored_items if b'"type":"cert"' in it or b'"type":"revocation"' in it) + b'\n')

# procedure and calendar: the documents inside the signed items.
for it in vector_items + demo_items:
    env = json.loads(it)
    if env['type'] in ('procedure', 'calendar'):
        put(env['type'], json.dumps(env['body']['document'], ensure_ascii=False, indent=2))
for s in ['2026-03-05T09:00:00+07:00', '2026-03-05T02:00Z', '2026-02-28', '2024-02-29T23:59:59-14:00']:
    put('calendar', s)

# bundle: `hoso export` of the demo's dossiers.
for b in glob.glob(os.path.join(demo, '*.bundle')):
    put('bundle', open(b, 'rb').read())

# batch: zstd runs of records as PUSH and FEED carry them.
zv = json.load(open(os.path.join(vectors, 'frames.json')))['zstd']
put('batch', bytes.fromhex(zv['compressed_hex']))
push = b''.join(record(0, e) for e in some_events[:6])
feed = b''.join(record(1772413200 + i, it) for i, it in enumerate(stored_items[:8] + some_events[:4]))
put('batch', zstd(push))
put('batch', zstd(feed))
put('batch', push)

# frame: the vectors, and sessions' worth of real messages in one stream.
for f in json.load(open(os.path.join(vectors, 'frames.json')))['frames']:
    put('frame', bytes.fromhex(f['frame_hex']))
dev = json.loads(some_events[0])['body']['device']
hello = frame(1, message({'v': 1, 'device': dev, 'proof': '00' * 64, 'pending': 3}))
server_cert = next(it for it in stored_items if b'"kind":"server"' in it).decode()
welcome = frame(2, message({'v': 1, 'store': 'ab' * 16, 'acked': 2, 'server_cert': server_cert, 'proof': '11' * 64}))
att = hashlib.blake2b(b'scan', digest_size=32).hexdigest()
put('frame', hello + frame(3, message({}, zstd(push))) + frame(12, message({'pending': 0})))
put('frame', welcome + frame(4, message({'acked': 6, 'watermarks': {dev: 6}, 'quarantined': 0, 'receipt': vector_items[0].decode()})))
put('frame', frame(5, message({'store': 'ab' * 16, 'items': 0, 'events': 0, 'max': 65536, 'own_after': 0})) +
    frame(6, message({'store': 'ab' * 16, 'items': 8, 'events': 4, 'done': True, 'reset': False, 'attachments': [att], 'count': 12}, zstd(feed))))
put('frame', frame(7, message({'hash': att})) + frame(8, message({'hash': att, 'have': 0, 'size': 4})) +
    frame(9, message({'hash': att, 'size': 4, 'offset': 0}, b'scan')) + frame(10, message({'hash': att, 'offset': 0})) +
    frame(11, message({'hash': att, 'size': 4, 'offset': 0}, b'scan')) + frame(15, message({'error': 'batch refused: x'})))
