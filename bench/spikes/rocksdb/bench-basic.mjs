// Measurement 1: raw rocksdb-native throughput at 1M keys (20-byte keys, 4-byte values).
// Batched puts (1k, 10k per write batch), batched gets (256, 4096 per read batch; also 4 batches
// in flight), single awaited gets, and a full iterator scan (capacity 8 = default, and 1024).
import { RocksDB, encodeKey, userKey, freshDir, now, rate, fmt, load, rng, DATA } from './common.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const dir = `${DATA}/basic`;
const rows = [];
const row = (what, ops, ms) => { rows.push({ what, ops, ms: Math.round(ms), perSec: rate(ops, ms) }); console.log(`${what}: ${fmt(rate(ops, ms))}/s (${fmt(ops)} in ${Math.round(ms)} ms)`); };

for (const batch of [1000, 10000]) {
  const db = new RocksDB(freshDir(`${dir}-${batch}`));
  await db.ready();
  row(`put, write batches of ${batch}`, N, await load(db, N, batch));
  await db.close();
}

const db = new RocksDB(`${dir}-10000`);
await db.ready();
let t = now();
await db.flush();
row('flush memtable (ops = keys)', N, now() - t);
t = now();
await db.compactRange();
console.log(`compactRange: ${Math.round(now() - t)} ms`);

const random = rng(42);
const pick = (n) => { const a = new Array(n); for (let i = 0; i < n; i++) a[i] = encodeKey(userKey(Math.floor(random() * N))); return a; };

async function readBatch(keys) {
  // Never make a batch of capacity 0: rocksdb-native 3.18 pools small batches and a reused one
  // keeps capacity 0, so its first get() loops forever doubling 0 (found while writing this spike).
  if (keys.length === 0) return [];
  const r = db.read({ capacity: keys.length });
  const ps = keys.map((k) => r.get(k));
  await r.flush();
  const vs = await Promise.all(ps);
  r.destroy();
  return vs;
}

for (const size of [256, 4096]) {
  const total = 200_000;
  const keys = pick(total);
  let found = 0;
  t = now();
  for (let i = 0; i < total; i += size) {
    const vs = await readBatch(keys.slice(i, i + size));
    for (const v of vs) if (v !== null) found++;
  }
  row(`get, read batches of ${size}, 1 in flight`, total, now() - t);
  if (found !== total) throw new Error(`found ${found} of ${total}`);
  t = now();
  for (let i = 0; i < total; i += size * 4) {
    const parts = [];
    for (let j = 0; j < 4; j++) parts.push(readBatch(keys.slice(i + j * size, i + (j + 1) * size)));
    await Promise.all(parts);
  }
  row(`get, read batches of ${size}, 4 in flight`, total, now() - t);
}

{
  const total = 20_000;
  const keys = pick(total);
  t = now();
  for (const k of keys) { const v = await db.get(k); if (v === null) throw new Error('missing'); }
  row('get, single awaited', total, now() - t);
}

for (const capacity of [8, 1024]) {
  let n = 0;
  t = now();
  for await (const _ of db.iterator({}, { capacity })) n++;
  if (n !== N) throw new Error(`scanned ${n}`);
  row(`iterator scan, capacity ${capacity}`, n, now() - t);
}
{
  // One key group (of 128): the range a rescale restores or deletes.
  const lo = Buffer.from([0, 5]);
  const hi = Buffer.from([0, 6]);
  let n = 0;
  t = now();
  for await (const _ of db.iterator({ gte: lo, lt: hi }, { capacity: 1024 })) n++;
  row(`iterator scan of one key group (${n} keys), capacity 1024`, n, now() - t);
}
console.log('live-sst-files-size', await db.getProperty('rocksdb.live-sst-files-size'));
await db.close();
console.log(JSON.stringify(rows));
