// Measurement 3: checkpoint mechanics with rocksdb-native (it has no Checkpoint or GetLiveFiles
// API). A checkpoint: flush every column family, suspend() (pauses background work, so no file
// is created or deleted), list the live SST files, hard-link them, copy MANIFEST/CURRENT/OPTIONS,
// resume(). Checks that the copy opens read-only and holds exactly the data written before the
// checkpoint (nothing written after), that a DB opens read-write from a copy of it (restore), and
// what a second, incremental checkpoint adds.
//
// usage: node bench-checkpoint.mjs [keysInA]
import { copyFileSync, linkSync, readdirSync, statSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RocksDB, require, encodeKey, encodeCount, userKey, freshDir, now, fmt, load, DATA } from './common.mjs';

// Not exported by the package: reached by path (the design would need it exported or patched).
const binding = require('./node_modules/rocksdb-native/binding.js');
const N = Number(process.argv[2] ?? 1_000_000);
const NB = Math.round(N / 10);
const root = `${DATA}/ckpt`;
freshDir(root);
const dbDir = join(root, 'db');

const db = new RocksDB(dbDir, { columnFamilies: ['a', 'b'] });
await db.ready();
const a = db.columnFamily('a');
const b = db.columnFamily('b');
const expected = { a: new Map(), b: new Map() };

async function put(cf, name, from, to, value) {
  for (let i = from; i < to; i += 10_000) {
    const w = cf.write({ capacity: 10_000 });
    for (let j = i; j < Math.min(to, i + 10_000); j++) {
      w.tryPut(encodeKey(userKey(j)), encodeCount(value));
      expected[name].set(userKey(j), value);
    }
    await w.flush();
    w.destroy();
  }
}

/** Live SST file numbers of one column family, parsed from the 'rocksdb.sstables' property. */
function liveFiles(text) {
  const out = [];
  for (const m of text.matchAll(/^\s*(\d+):(\d+)\[/gm)) out.push({ number: Number(m[1]), size: Number(m[2]) });
  return out;
}
const sstName = (n) => `${String(n).padStart(6, '0')}.sst`;

/** Reads a property while the DB is suspended: the JS wrapper would wait for resume, the binding does not. */
function propertySync(session, name) {
  return binding.propertyGet(db._state._handle, session._columnFamily._handle, name);
}

async function checkpoint(target, previous) {
  const t = { start: now() };
  await a.flush();
  await b.flush();
  await db.flush(); // the default column family (empty here)
  t.flushed = now();
  await db.suspend();
  t.suspended = now();
  const live = new Map();
  for (const [name, cf] of [['default', db], ['a', a], ['b', b]]) {
    for (const f of liveFiles(propertySync(cf, 'rocksdb.sstables'))) live.set(sstName(f.number), { cf: name, ...f });
  }
  t.listed = now();
  mkdirSync(target, { recursive: true });
  const inDir = readdirSync(dbDir);
  const extraInDir = inDir.filter((f) => f.endsWith('.sst') && !live.has(f));
  for (const f of live.keys()) linkSync(join(dbDir, f), join(target, f));
  t.linked = now();
  const manifest = readFileSync(join(dbDir, 'CURRENT'), 'latin1').trim();
  const options = inDir.filter((f) => f.startsWith('OPTIONS-')).sort().at(-1);
  for (const f of ['CURRENT', manifest, options]) copyFileSync(join(dbDir, f), join(target, f));
  t.copied = now();
  await db.resume();
  t.resumed = now();
  const newFiles = [...live.keys()].filter((f) => !previous?.has(f));
  const bytes = (files) => files.reduce((s, f) => s + statSync(join(target, f)).size, 0);
  return {
    live,
    report: {
      liveSst: live.size, liveSstBytes: bytes([...live.keys()]), newSst: newFiles.length, newSstBytes: bytes(newFiles),
      sstInDirNotLive: extraInDir.length, manifestBytes: statSync(join(target, manifest)).size,
      flushMs: +(t.flushed - t.start).toFixed(1), suspendMs: +(t.suspended - t.flushed).toFixed(1),
      listMs: +(t.listed - t.suspended).toFixed(2), linkMs: +(t.linked - t.listed).toFixed(2),
      copyMs: +(t.copied - t.linked).toFixed(2), resumeMs: +(t.resumed - t.copied).toFixed(1),
      suspendedWindowMs: +(t.resumed - t.suspended).toFixed(1), totalMs: +(t.resumed - t.start).toFixed(1),
    },
  };
}

/** Opens a copy and compares every entry of both column families with `want`. */
async function verify(dir, want, readOnly) {
  const t0 = now();
  const c = new RocksDB(dir, { columnFamilies: ['a', 'b'], readOnly, createIfMissing: false });
  await c.ready();
  const opened = now() - t0;
  const counts = {};
  for (const name of ['a', 'b']) {
    const cf = c.columnFamily(name);
    let n = 0;
    for await (const { key, value } of cf.iterator({}, { capacity: 1024 })) {
      const k = key.latin1Slice(3);
      if (want[name].get(k) !== value.readUInt32LE(0)) throw new Error(`${dir} ${name}: ${k} = ${value.readUInt32LE(0)}, want ${want[name].get(k)}`);
      n++;
    }
    if (n !== want[name].size) throw new Error(`${dir} ${name}: ${n} entries, want ${want[name].size}`);
    counts[name] = n;
  }
  return { c, openedMs: +opened.toFixed(1), counts };
}

const snap = (m) => ({ a: new Map(m.a), b: new Map(m.b) });

const tl = now();
await put(a, 'a', 0, N, 1);
await put(b, 'b', 0, NB, 1);
console.log(`loaded ${fmt(N)} + ${fmt(NB)} keys in ${Math.round(now() - tl)} ms`);
await a.flush();
await b.flush();
// Updates that are still in the memtable when the checkpoint starts.
await put(a, 'a', 0, 50_000, 2);

console.log('rocksdb.sstables of a (head):\n' + (await a.getProperty('rocksdb.sstables')).split('\n').slice(0, 6).join('\n'));

const want1 = snap(expected);
const c1 = await checkpoint(join(root, 'chk-1'));
console.log('checkpoint 1', JSON.stringify(c1.report));
// Written after checkpoint 1: must not be in its copy.
await put(a, 'a', N - 100_000, N, 3);
await put(b, 'b', 0, 1000, 3);
const want2 = snap(expected);
const c2 = await checkpoint(join(root, 'chk-2'), c1.live);
console.log('checkpoint 2 (after 100k updates)', JSON.stringify(c2.report));

// Compaction after checkpoints: files of chk-1 disappear from the live DB, the copies keep them.
await a.compactRange();
const afterCompact = liveFiles(await a.getProperty('rocksdb.sstables')).map((f) => sstName(f.number));
console.log(`after compactRange: live SST of a = ${afterCompact.join(', ')}`);

const v1 = await verify(join(root, 'chk-1'), want1, true);
console.log('chk-1 opens read-only:', JSON.stringify({ openedMs: v1.openedMs, counts: v1.counts }));
await v1.c.close();
const v2 = await verify(join(root, 'chk-2'), want2, true);
console.log('chk-2 opens read-only:', JSON.stringify({ openedMs: v2.openedMs, counts: v2.counts }));
await v2.c.close();

// Restore: a working directory made of hard links to chk-2's SSTs and copies of the rest, opened
// read-write, written to, reopened.
const restoreDir = join(root, 'restored');
mkdirSync(restoreDir);
const tr = now();
for (const f of readdirSync(join(root, 'chk-2'))) {
  if (f.endsWith('.sst')) linkSync(join(root, 'chk-2', f), join(restoreDir, f));
  else copyFileSync(join(root, 'chk-2', f), join(restoreDir, f));
}
const r = await verify(restoreDir, want2, false);
console.log('restore from chk-2 (link + open read-write + full verify):', JSON.stringify({ linkAndOpenMs: +(now() - tr).toFixed(1) - 0, openedMs: r.openedMs, counts: r.counts }));
const ra = r.c.columnFamily('a');
await ra.put(encodeKey(userKey(1)), encodeCount(99));
const got = await ra.get(encodeKey(userKey(1)));
console.log('restored DB accepts writes:', got.readUInt32LE(0) === 99);
console.log('restored dir SST numbers continue after:', readdirSync(restoreDir).filter((f) => f.endsWith('.sst')).sort().join(','));
await r.c.close();

// The checkpoint copies are independent of the live DB: writing to the restored DB did not
// change chk-2, and chk-1 still verifies after compaction deleted its files from the live DB.
const v1b = await verify(join(root, 'chk-1'), want1, true);
await v1b.c.close();
console.log('chk-1 still exact after compaction of the live DB: true');

// Does the JS getProperty wait while suspended? (The design must not call it then.)
await db.suspend();
const raced = await Promise.race([a.getProperty('rocksdb.sstables').then(() => 'returned'), new Promise((res) => setTimeout(() => res('waits for resume'), 200))]);
console.log('db.getProperty while suspended:', raced);
await db.resume();
await db.close();
