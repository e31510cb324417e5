// Measurement 1b: the other RocksDB binding found in the registry, @nxtedition/rocksdb (installed
// in ./alt), which has synchronous multi-get, synchronous write batches and a synchronous
// iterator, but no flush, pause or checkpoint API. Same keys and values as bench-basic.mjs.
//
// usage: node bench-nxt.mjs [keys]
import { createRequire } from 'node:module';
import { encodeKey, encodeCount, userKey, freshDir, now, rate, fmt, rng, DATA } from './common.mjs';

const require = createRequire(new URL('./alt/package.json', import.meta.url));
const { RocksLevel } = require('@nxtedition/rocksdb');
const N = Number(process.argv[2] ?? 1_000_000);
const rows = [];
const row = (what, ops, ms) => { rows.push({ what, ops, ms: Math.round(ms), perSec: rate(ops, ms) }); console.log(`${what}: ${fmt(rate(ops, ms))}/s (${fmt(ops)} in ${Math.round(ms)} ms)`); };

let db;
for (const batch of [1000, 10000]) {
  db = new RocksLevel(freshDir(`${DATA}/nxt-${batch}`), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const v = encodeCount(0);
  const t = now();
  for (let i = 0; i < N; i += batch) {
    const b = db.batch();
    for (let j = i; j < Math.min(N, i + batch); j++) b.put(encodeKey(userKey(j)), v);
    b._writeSync();
    b._closeSync();
  }
  row(`put, sync write batches of ${batch}`, N, now() - t);
  if (batch === 1000) await db.close();
}

// No flush in this binding: close and reopen, so the WAL is replayed and flushed to SST files on open.
await db.close();
db = new RocksLevel(`${DATA}/nxt-10000`, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open();
console.log('after reopen, live SST bytes:', db.getProperty('rocksdb.live-sst-files-size'), 'memtable bytes:', db.getProperty('rocksdb.cur-size-all-mem-tables'));
const random = rng(42);
const pick = (n) => { const a = new Array(n); for (let i = 0; i < n; i++) a[i] = encodeKey(userKey(Math.floor(random() * N))); return a; };
for (const size of [1, 256, 4096]) {
  const total = size === 1 ? 50_000 : 200_000;
  const keys = pick(total);
  const t = now();
  for (let i = 0; i < total; i += size) {
    const vs = db._getManySync(keys.slice(i, i + size), { valueEncoding: 'buffer' });
    for (const v of vs) if (v === undefined) throw new Error('missing');
  }
  row(`getManySync, batches of ${size} (SST)`, total, now() - t);
}
{
  const it = db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' });
  let n = 0;
  const t = now();
  for (;;) {
    const { rows: r, finished } = it._nextvSync(1024);
    n += r.length / 2;
    if (finished) break;
  }
  it._closeSync?.();
  row('iterator scan, nextvSync(1024)', n, now() - t);
}
console.log('rocksdb.sstables available:', typeof db.getProperty('rocksdb.sstables') === 'string');
await db.close();
console.log(JSON.stringify(rows));
