// Measurement 4: rocksdb-native in worker threads.
// (a) Two workers each open their own DB, write and read it, and close: the addon loads per thread.
// (b) A synchronous read path: a helper worker owns the DB; the task thread asks for keys through
//     a SharedArrayBuffer and blocks in Atomics.wait until the helper answers. This is what a
//     cache miss that cannot be prefetched would cost if it had to be answered synchronously.
//
// usage: node bench-worker.mjs [keys]
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { RocksDB, encodeKey, userKey, freshDir, now, rate, fmt, load, rng, DATA } from './common.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const SAB_BYTES = 4 << 20;

if (!isMainThread && workerData.mode === 'plain') {
  const db = new RocksDB(freshDir(workerData.dir));
  await db.ready();
  await load(db, 10_000, 1000, 7);
  const v = await db.get(encodeKey(userKey(1234)));
  await db.close();
  parentPort.postMessage({ ok: v !== null && v.readUInt32LE(0) === 7 });
} else if (!isMainThread && workerData.mode === 'server') {
  // Protocol on ctl (Int32Array): [0] state 0 idle / 1 request / 2 answer; [1] key count.
  // Request: keys as (u16 length, bytes) from data[0]; answer: (i32 value or -1) per key.
  const db = new RocksDB(workerData.dir);
  await db.ready();
  const ctl = new Int32Array(workerData.ctl);
  const data = Buffer.from(workerData.data);
  // A pending Atomics.waitAsync does not keep a worker's event loop alive (nor does an open
  // DB): without a ref'd handle the worker simply exits while waiting.
  const keepAlive = setInterval(() => {}, 1 << 30);
  parentPort.postMessage('ready');
  for (;;) {
    const r = Atomics.waitAsync(ctl, 0, 0);
    if (r.async) await r.value;
    if (Atomics.load(ctl, 0) !== 1) continue;
    const n = ctl[1];
    if (n < 0) break;
    const rb = db.read({ capacity: Math.max(1, n) });
    const ps = [];
    let off = 0;
    for (let i = 0; i < n; i++) {
      const len = data.readUInt16LE(off);
      ps.push(rb.get(Buffer.from(data.subarray(off + 2, off + 2 + len))));
      off += 2 + len;
    }
    await rb.flush();
    const vs = await Promise.all(ps);
    rb.destroy();
    for (let i = 0; i < n; i++) data.writeInt32LE(vs[i] === null ? -1 : vs[i].readUInt32LE(0), i * 4);
    Atomics.store(ctl, 0, 2);
    Atomics.notify(ctl, 0);
  }
  clearInterval(keepAlive);
  await db.close();
  parentPort.postMessage('closed');
} else {
  // (a)
  const t0 = now();
  const results = await Promise.all([0, 1].map((i) => new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { mode: 'plain', dir: `${DATA}/worker-${i}` } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  console.log(`(a) two workers, own DBs: ${JSON.stringify(results)} in ${Math.round(now() - t0)} ms`);

  // (b)
  const dir = freshDir(`${DATA}/bridge`);
  {
    const db = new RocksDB(dir);
    await db.ready();
    await load(db, N, 10_000, 5);
    await db.flush();
    await db.close();
  }
  const ctlSab = new SharedArrayBuffer(8);
  const dataSab = new SharedArrayBuffer(SAB_BYTES);
  const ctl = new Int32Array(ctlSab);
  const data = Buffer.from(dataSab);
  const w = new Worker(new URL(import.meta.url), { workerData: { mode: 'server', dir, ctl: ctlSab, data: dataSab } });
  await new Promise((res) => w.once('message', res));

  /** Synchronous multi-get through the helper: blocks this thread until the answer is there. */
  function getSync(keys) {
    let off = 0;
    for (const k of keys) { data.writeUInt16LE(k.length, off); k.copy(data, off + 2); off += 2 + k.length; }
    ctl[1] = keys.length;
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    while (Atomics.load(ctl, 0) !== 2) Atomics.wait(ctl, 0, 1);
    const out = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = data.readInt32LE(i * 4);
    Atomics.store(ctl, 0, 0);
    return out;
  }

  const random = rng(3);
  const pick = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(encodeKey(userKey(Math.floor(random() * N)))); return a; };
  const rows = [];
  {
    const keys = pick(20_000);
    const t = now();
    for (const k of keys) if (getSync([k])[0] !== 5) throw new Error('bad value');
    const ms = now() - t;
    rows.push({ what: 'sync get via helper worker, 1 key', perSec: rate(keys.length, ms), usPerCall: +((ms * 1000) / keys.length).toFixed(1) });
  }
  for (const size of [256, 4096]) {
    const keys = pick(200_000);
    const t = now();
    for (let i = 0; i < keys.length; i += size) {
      const vs = getSync(keys.slice(i, i + size));
      if (vs.some((v) => v !== 5)) throw new Error('bad value');
    }
    const ms = now() - t;
    rows.push({ what: `sync get via helper worker, batches of ${size}`, perSec: rate(keys.length, ms), usPerCall: +((ms * 1000) / (keys.length / size)).toFixed(1) });
  }
  for (const r of rows) console.log(`(b) ${r.what}: ${fmt(r.perSec)} keys/s, ${r.usPerCall} µs per call`);
  ctl[1] = -1;
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  await new Promise((res) => w.once('message', res));
  await w.terminate();
  console.log(JSON.stringify(rows));
}
