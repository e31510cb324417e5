// Measurement 3b: bytes an incremental checkpoint would upload (SST files new since the previous
// checkpoint) against the bytes of state changed since then, over 12 checkpoints of a 1M-key
// state with 100k random updates each (default RocksDB options of rocksdb-native: leveled
// compaction, 64 MB write buffer). Live files are read with the 'rocksdb.sstables' property
// right after flush and suspend, as in bench-checkpoint.mjs.
import { require, RocksDB, encodeKey, encodeCount, userKey, freshDir, now, rng, load, DATA } from './common.mjs';
const binding = require('./node_modules/rocksdb-native/binding.js');
const N = 1_000_000, UPDATES = 100_000, CHECKPOINTS = 12;
const db = new RocksDB(freshDir(`${DATA}/incremental`));
await db.ready();
await load(db, N, 10_000, 0);
const sst = () => {
  const m = new Map();
  const text = binding.propertyGet(db._state._handle, db._columnFamily._handle, 'rocksdb.sstables');
  for (const x of text.matchAll(/^\s*(\d+):(\d+)\[/gm)) m.set(Number(x[1]), Number(x[2]));
  return m;
};
const random = rng(11);
let prev = new Map();
const rows = [];
for (let c = 1; c <= CHECKPOINTS; c++) {
  let changedBytes = 0;
  if (c > 1) {
    for (let i = 0; i < UPDATES; i += 10_000) {
      const w = db.write({ capacity: 10_000 });
      for (let j = 0; j < 10_000; j++) { const k = encodeKey(userKey(Math.floor(random() * N))); w.tryPut(k, encodeCount(c)); changedBytes += k.length + 4; }
      await w.flush(); w.destroy();
    }
  }
  const t0 = now();
  await db.flush();
  const t1 = now();
  await db.suspend();
  const t2 = now();
  const live = sst();
  await db.resume();
  const ms = now() - t0;
  let newBytes = 0, newFiles = 0, liveBytes = 0;
  for (const [n, size] of live) { liveBytes += size; if (!prev.has(n)) { newBytes += size; newFiles++; } }
  prev = live;
  rows.push({ checkpoint: c, changedBytes, liveFiles: live.size, liveBytes, newFiles, newBytes, ratio: changedBytes ? +(newBytes / changedBytes).toFixed(2) : null, flushMs: +(t1 - t0).toFixed(1), suspendMs: +(t2 - t1).toFixed(1), totalMs: +ms.toFixed(1) });
  // Give background compaction a moment, as a running job would between checkpoints.
  await new Promise((r) => setTimeout(r, 200));
}
await db.close();
for (const r of rows) console.log(JSON.stringify(r));
const later = rows.slice(1);
const sum = (k) => later.reduce((s, r) => s + r[k], 0);
console.log(`checkpoints 2..${CHECKPOINTS}: uploaded ${sum('newBytes')} bytes for ${sum('changedBytes')} changed bytes (${(sum('newBytes') / sum('changedBytes')).toFixed(2)}x); a full checkpoint is ~${rows.at(-1).liveBytes} bytes`);
