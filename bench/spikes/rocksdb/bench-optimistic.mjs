// Measurement 3c: a checkpoint copy taken WITHOUT suspend(), right after flush, while compactions
// may run: list live SSTs (synchronous property), hard-link them, copy CURRENT/MANIFEST/OPTIONS,
// then accept the copy only if it opens read-only and lists the same files. Each accepted copy is
// checked entry by entry against the data written before it. 1M keys, 8 checkpoints with 100k
// random updates before each (so L0->L1 compactions run in the background during some copies).
import { copyFileSync, linkSync, readdirSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { require, RocksDB, encodeKey, encodeCount, userKey, freshDir, now, rng, load, DATA } from './common.mjs';
const binding = require('./node_modules/rocksdb-native/binding.js');
const N = 1_000_000, UPDATES = 100_000, CHECKPOINTS = 8;
const root = freshDir(`${DATA}/optimistic`);
const dbDir = join(root, 'db');
const db = new RocksDB(dbDir);
await db.ready();
await load(db, N, 10_000, 0);
const expected = new Uint32Array(N);
const prop = (d, name) => binding.propertyGet(d._state._handle, d._columnFamily._handle, name);
const files = (text) => [...text.matchAll(/^\s*(\d+):(\d+)\[/gm)].map((m) => `${m[1].padStart(6, '0')}.sst`).sort();
const random = rng(5);
const rows = [];
for (let c = 1; c <= CHECKPOINTS; c++) {
  for (let i = 0; i < UPDATES; i += 10_000) {
    const w = db.write({ capacity: 10_000 });
    for (let j = 0; j < 10_000; j++) { const k = Math.floor(random() * N); w.tryPut(encodeKey(userKey(k)), encodeCount(c)); expected[k] = c; }
    await w.flush(); w.destroy();
  }
  const want = expected.slice();
  const t0 = now();
  await db.flush();
  const t1 = now();
  let attempts = 0, ok = false, compactionsRunning, copyMs, live;
  while (!ok) {
    attempts++;
    const dir = join(root, `chk-${c}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const ts = now();
    compactionsRunning = Number(prop(db, 'rocksdb.num-running-compactions'));
    live = files(prop(db, 'rocksdb.sstables'));
    try {
      for (const f of live) linkSync(join(dbDir, f), join(dir, f));
      const manifest = readFileSync(join(dbDir, 'CURRENT'), 'latin1').trim();
      const options = readdirSync(dbDir).filter((f) => f.startsWith('OPTIONS-')).sort().at(-1);
      for (const f of ['CURRENT', manifest, options]) copyFileSync(join(dbDir, f), join(dir, f));
    } catch (e) {
      if (e.code === 'ENOENT') continue; // a compaction deleted a listed file: take the list again
      throw e;
    }
    copyMs = now() - ts;
    const copy = new RocksDB(dir, { readOnly: true, createIfMissing: false });
    try {
      await copy.ready();
      ok = JSON.stringify(files(prop(copy, 'rocksdb.sstables'))) === JSON.stringify(live);
      if (ok) {
        let n = 0;
        for await (const { key, value } of copy.iterator({}, { capacity: 1024 })) {
          const k = Number(key.latin1Slice(8));
          if (value.readUInt32LE(0) !== want[k]) throw new Error(`chk-${c}: key ${k} = ${value.readUInt32LE(0)}, want ${want[k]}`);
          n++;
        }
        if (n !== N) throw new Error(`chk-${c}: ${n} keys`);
      }
    } catch (e) {
      if (!String(e.message).startsWith('chk-')) { ok = false; console.log(`copy ${c} rejected: ${e.message}`); } else throw e;
    } finally {
      await copy.close().catch(() => {});
    }
  }
  rows.push({ checkpoint: c, flushMs: +(t1 - t0).toFixed(1), compactionsRunningAtCopy: compactionsRunning, attempts, listLinkCopyMs: +copyMs.toFixed(2), liveFiles: live.length, exact: true });
}
await db.close();
for (const r of rows) console.log(JSON.stringify(r));
