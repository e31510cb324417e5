// Measurement 2: the prefetch design, simulated. A keyed count (value state, count++) over
// batches of 4096 records. Per batch: the keys not in a bounded cache are deduplicated and read
// with one read batch, then the batch is processed synchronously against the cache. Writes stay
// in the cache (dirty) and go down in one write batch every FLUSH_EVERY batches; a dirty entry
// that is evicted goes to `pending` (still readable) until that write. Compared with a plain JS
// Map doing the same count. The DB is preloaded with every key of the key space (count 0) and
// flushed, so reads hit real data in SST files.
//
// usage: node bench-prefetch.mjs <keySpace> <uniform|zipf> [records] [cacheEntries] [lookahead 0|1]
import { RocksDB, encodeKey, encodeCount, userKey, freshDir, now, rate, fmt, load, rng, zipf, DATA } from './common.mjs';

const KEYS = Number(process.argv[2] ?? 100_000);
const DIST = process.argv[3] ?? 'uniform';
const RECORDS = Number(process.argv[4] ?? 2_000_000);
const CACHE = Number(process.argv[5] ?? 65_536);
const LOOKAHEAD = Number(process.argv[6] ?? 0) === 1;
const BATCH = 4096;
const FLUSH_EVERY = 16;

const random = rng(7);
const next = DIST === 'zipf' ? zipf(KEYS, 1.0, random) : () => Math.floor(random() * KEYS);
const records = new Int32Array(RECORDS);
for (let i = 0; i < RECORDS; i++) records[i] = next();
const names = new Array(KEYS);
for (let i = 0; i < KEYS; i++) names[i] = userKey(i);

// ---- baseline: the heap backend's shape (a Map from the key's canonical string) ----
let tMap;
const expected = new Map();
{
  const t0 = now();
  for (let i = 0; i < RECORDS; i++) {
    const k = names[records[i]];
    expected.set(k, (expected.get(k) ?? 0) + 1);
  }
  tMap = now() - t0;
}

// ---- RocksDB with prefetch ----
const dbDir = freshDir(`${DATA}/prefetch-${KEYS}`);
const db = new RocksDB(dbDir);
await db.ready();
await load(db, KEYS, 10_000, 0);
await db.flush();
await db.compactRange();

/** Cache entry; CLOCK (second chance) replacement: a hit only sets `ref`. */
class Entry {
  constructor(key, value) { this.key = key; this.value = value; this.dirty = false; this.ref = true; this.pin = pinFloor; }
}
// Entries of the batch being prefetched or processed are pinned (pin >= pinFloor): eviction
// never takes them, so a batch's keys stay readable until it is processed. The cache must hold
// at least the distinct keys of the batches in flight (CACHE >= 2 * BATCH with lookahead).
let pinFloor = 0;
const cache = new Map(); // canonical key -> Entry
const pending = new Map(); // evicted dirty entries, until the next write batch
let dirty = []; // entries that became dirty since the last write batch
let hits = 0, misses = 0, reads = 0, readBatches = 0, writes = 0, writeBatches = 0, evictions = 0;

// The clock hand is one long-lived Map iterator: it sees entries re-inserted at the tail later
// on. (Starting a fresh iterator per eviction walks over every deleted slot at the head of the
// Map's table until V8 compacts it: O(cache) per eviction, measured 10x slower.)
let hand = cache.entries();
function evictOne() {
  for (;;) {
    let it = hand.next();
    if (it.done) { hand = cache.entries(); it = hand.next(); }
    const [k, e] = it.value;
    cache.delete(k);
    if (e.pin >= pinFloor) { cache.set(k, e); continue; }
    if (e.ref) { e.ref = false; cache.set(k, e); continue; }
    evictions++;
    if (e.dirty) pending.set(k, e);
    return;
  }
}

function install(k, value, pin) {
  if (cache.has(k) || pending.has(k)) return; // the cache's value is newer
  while (cache.size >= CACHE) evictOne();
  const e = new Entry(k, value);
  e.pin = pin;
  cache.set(k, e);
}

/** Keys of records[from, to) that must be read; marks hits as referenced. */
function missing(from, to, inflight, pin) {
  const seen = new Set();
  const out = [];
  for (let i = from; i < to; i++) {
    const k = names[records[i]];
    const e = cache.get(k);
    if (e !== undefined) { e.ref = true; e.pin = pin; hits++; continue; }
    const p = pending.get(k);
    if (p !== undefined) { hits++; continue; }
    if (seen.has(k) || inflight?.has(k)) { hits++; continue; }
    seen.add(k);
    out.push(k);
    misses++;
  }
  return out;
}

async function read(keys, pin) {
  if (keys.length === 0) return;
  const r = db.read({ capacity: keys.length });
  const ps = keys.map((k) => r.get(encodeKey(k)));
  await r.flush();
  const vs = await Promise.all(ps);
  r.destroy();
  reads += keys.length; readBatches++;
  for (let i = 0; i < keys.length; i++) install(keys[i], vs[i] === null ? 0 : vs[i].readUInt32LE(0), pin);
}

function processBatch(from, to) {
  for (let i = from; i < to; i++) {
    const k = names[records[i]];
    let e = cache.get(k);
    if (e === undefined) {
      // Evicted pending entries come back into the cache; a true miss here is a bug.
      e = pending.get(k);
      if (e === undefined) throw new Error(`key ${k} not prefetched`);
      pending.delete(k);
      e.pin = pinFloor;
      while (cache.size >= CACHE) evictOne();
      cache.set(k, e);
    }
    e.value++;
    e.ref = true;
    if (!e.dirty) { e.dirty = true; dirty.push(e); }
  }
}

async function writeBack() {
  const list = dirty;
  dirty = [];
  const w = db.write({ capacity: list.length + pending.size + 1 });
  let n = 0;
  for (const e of list) if (e.dirty) { w.tryPut(encodeKey(e.key), encodeCount(e.value)); e.dirty = false; n++; }
  for (const e of pending.values()) if (e.dirty) { w.tryPut(encodeKey(e.key), encodeCount(e.value)); e.dirty = false; n++; }
  pending.clear();
  if (n === 0) { w.destroy(); return; }
  await w.flush();
  w.destroy();
  writes += n; writeBatches++;
}

let tReadWait = 0;
const t0 = now();
let batchNo = 0;
let ahead; // { keys, promise } for the next batch (lookahead)
for (let from = 0; from < RECORDS; from += BATCH) {
  const to = Math.min(RECORDS, from + BATCH);
  const tr = now();
  pinFloor = batchNo;
  if (ahead) { await ahead.promise; ahead = undefined; }
  await read(missing(from, to, undefined, batchNo), batchNo);
  tReadWait += now() - tr;
  if (LOOKAHEAD && to < RECORDS) {
    // Issue the next batch's read before processing this one; its results never overwrite
    // what the cache or `pending` hold (install() checks), so the overlap is safe.
    const keys = missing(to, Math.min(RECORDS, to + BATCH), new Set(), batchNo + 1);
    ahead = { keys, promise: read(keys, batchNo + 1) };
  }
  processBatch(from, to);
  if (++batchNo % FLUSH_EVERY === 0) {
    if (ahead) { await ahead.promise; ahead = undefined; } // a write never races a read in flight
    await writeBack();
  }
}
if (ahead) await ahead.promise;
await writeBack();
const tRocks = now() - t0;

// ---- check: every count in RocksDB equals the Map's ----
let checked = 0;
for await (const { key, value } of db.iterator({}, { capacity: 1024 })) {
  const k = key.latin1Slice(3);
  const want = expected.get(k) ?? 0;
  if (value.readUInt32LE(0) !== want) throw new Error(`count of ${k}: ${value.readUInt32LE(0)} != ${want}`);
  checked++;
}
if (checked !== KEYS) throw new Error(`checked ${checked} of ${KEYS}`);
await db.close();

const result = {
  keys: KEYS, dist: DIST, records: RECORDS, cache: CACHE, lookahead: LOOKAHEAD,
  mapPerSec: rate(RECORDS, tMap), rocksPerSec: rate(RECORDS, tRocks),
  hitRate: +(hits / (hits + misses)).toFixed(4),
  readsPerBatch: Math.round(reads / Math.max(1, Math.ceil(RECORDS / BATCH))),
  readWaitShare: +(tReadWait / tRocks).toFixed(2),
  writes, writeBatches, evictions,
};
console.log(`${KEYS} keys ${DIST}${LOOKAHEAD ? ' lookahead' : ''}: map ${fmt(result.mapPerSec)}/s, rocksdb+prefetch ${fmt(result.rocksPerSec)}/s, hit rate ${result.hitRate}, reads/batch ${result.readsPerBatch}, read wait ${result.readWaitShare}`);
console.log(JSON.stringify(result));
