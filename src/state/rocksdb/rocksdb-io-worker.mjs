/**
 * The RocksDB I/O thread: owns every RocksDB instance of the thread that started it and runs
 * the requests of that thread's keyed state backends one after another, in the order they were
 * posted. That order is the consistency contract: a read posted after a write sees it, and a
 * snapshot sees exactly the writes posted before it. rocksdb-native's API is asynchronous only;
 * running it here lets a task thread wait for an answer synchronously (Atomics.wait on the
 * shared signal, then receiveMessageOnPort) without the binding ever needing the task thread's
 * event loop.
 *
 * Protocol (rocksdb-bridge.ts is the other side): requests `{ id, op, ...args }` arrive on the
 * port given in workerData; each is answered by exactly one `{ id, ok: true, value }` or
 * `{ id, ok: false, message }` on the same port, after which the signal (Int32Array[0]) is
 * incremented and notified. Keys and values travel packed: one byte array and an offsets array
 * (Uint32Array), entry i spanning offsets[i]..offsets[i+1]; a value whose span is marked in
 * `deletes` is a deletion.
 *
 * Plain JavaScript: it runs in a worker with no TypeScript loader.
 */
import { copyFile, link, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import RocksDB from 'rocksdb-native';

const port = workerData.port;
const signal = workerData.signal;

/** Open databases by handle id. */
const dbs = new Map();
/** RocksDB snapshots (snapshotted sessions) by id. */
const snapshots = new Map();
let nextId = 1;

function answer(message) {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function db(id) {
  const d = dbs.get(id);
  if (d === undefined) throw new Error(`no open RocksDB instance ${id}`);
  return d;
}

function session(request) {
  if (request.snapshot === undefined) return db(request.db);
  const s = snapshots.get(request.snapshot);
  if (s === undefined) throw new Error(`no RocksDB snapshot ${request.snapshot}`);
  return s;
}

const view = (bytes, offsets, i) => Buffer.from(bytes.buffer, bytes.byteOffset + offsets[i], offsets[i + 1] - offsets[i]);

/** Packs byte arrays as (bytes, offsets). */
function pack(parts) {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const bytes = new Uint8Array(total);
  const offsets = new Uint32Array(parts.length + 1);
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    bytes.set(parts[i], pos);
    pos += parts[i].byteLength;
    offsets[i + 1] = pos;
  }
  return { bytes, offsets };
}

const handlers = {
  async open({ path, writeBufferSize, maxWriteBufferNumber, blockCache }) {
    const cf = new RocksDB.ColumnFamily('default', { writeBufferSize, maxWriteBufferNumber, blockCache });
    const instance = new RocksDB(path, { columnFamily: cf, maxBackgroundJobs: 2 });
    await instance.ready();
    const id = nextId++;
    dbs.set(id, instance);
    return id;
  },

  async close(request) {
    const instance = db(request.db);
    for (const [id, s] of snapshots) {
      if (s.owner === request.db) {
        await s.close();
        snapshots.delete(id);
      }
    }
    dbs.delete(request.db);
    await instance.close();
    return null;
  },

  /** Puts and deletes in one atomic write batch; `deletes` lists the indexes that are deletions. */
  async write(request) {
    const { keys, values, deletes } = request;
    const n = keys.offsets.length - 1;
    // Never make a batch of capacity 0: rocksdb-native pools small batches and a reused one of
    // capacity 0 loops forever on its first operation.
    if (n === 0) return null;
    const batch = db(request.db).write({ capacity: n });
    const deleted = new Set(deletes);
    for (let i = 0; i < n; i++) {
      if (deleted.has(i)) batch.tryDelete(view(keys.bytes, keys.offsets, i));
      else batch.tryPut(view(keys.bytes, keys.offsets, i), view(values.bytes, values.offsets, i));
    }
    await batch.flush();
    batch.destroy();
    return null;
  },

  /** Values of the keys (null for a missing key), packed; `present[i]` says which exist. */
  async get(request) {
    const { keys } = request;
    const n = keys.offsets.length - 1;
    if (n === 0) return { values: pack([]), present: new Uint8Array(0) };
    const batch = session(request).read({ capacity: n });
    const pending = [];
    for (let i = 0; i < n; i++) pending.push(batch.get(view(keys.bytes, keys.offsets, i)));
    await batch.flush();
    const found = await Promise.all(pending);
    batch.destroy();
    const present = new Uint8Array(n);
    const parts = [];
    for (let i = 0; i < n; i++) {
      const v = found[i];
      present[i] = v === null ? 0 : 1;
      parts.push(v === null ? new Uint8Array(0) : v);
    }
    return { values: pack(parts), present };
  },

  /** Up to `limit` entries with gt/gte <= key < lt, in key order; `more`: the range may have more. */
  async scan(request) {
    const { gt, gte, lt, limit } = request;
    const range = { lt: Buffer.from(lt) };
    if (gt !== undefined) range.gt = Buffer.from(gt);
    else range.gte = Buffer.from(gte);
    const keys = [];
    const values = [];
    for await (const { key, value } of session(request).iterator(range, { limit, capacity: Math.min(limit, 1024) })) {
      keys.push(key);
      values.push(value);
    }
    return { keys: pack(keys), values: pack(values), more: keys.length === limit };
  },

  /** Deletes every key in [start, end). */
  async deleteRange(request) {
    await db(request.db).deleteRange(Buffer.from(request.start), Buffer.from(request.end));
    return null;
  },

  /** A consistent view of everything written before this request, until released. */
  async snapshot(request) {
    const s = db(request.db).snapshot();
    const id = nextId++;
    snapshots.set(id, Object.assign(s, { owner: request.db }));
    return id;
  },

  async release(request) {
    const s = snapshots.get(request.snapshot);
    if (s === undefined) return null;
    snapshots.delete(request.snapshot);
    await s.close();
    return null;
  },

  async flush(request) {
    await db(request.db).flush();
    return null;
  },

  async property(request) {
    return await db(request.db).getProperty(request.name);
  },

  /**
   * A consistent copy of the instance's files in `dir` (created; must not exist): flushes the
   * memtable, hard-links the live SST files and copies CURRENT, the MANIFEST it names and the
   * newest OPTIONS file. A compaction may delete a listed file or extend the MANIFEST meanwhile,
   * so the copy is opened read-only and accepted only when it lists exactly the files linked;
   * otherwise it is taken again. Answers the SST file names and sizes of the copy.
   */
  async checkpoint(request) {
    const instance = db(request.db);
    const source = instance.path;
    await instance.flush();
    for (let attempt = 1; ; attempt++) {
      await rm(request.dir, { recursive: true, force: true });
      await mkdir(request.dir, { recursive: true });
      try {
        const listed = liveFiles(await instance.getProperty('rocksdb.sstables'));
        for (const f of listed) await link(join(source, f), join(request.dir, f));
        const current = await readFile(join(source, 'CURRENT'), 'utf8');
        const manifest = current.trim();
        await copyFile(join(source, manifest), join(request.dir, manifest));
        await copyFile(join(source, 'CURRENT'), join(request.dir, 'CURRENT'));
        const options = (await readdir(source)).filter((f) => f.startsWith('OPTIONS-')).sort().pop();
        if (options !== undefined) await copyFile(join(source, options), join(request.dir, options));
        const copy = new RocksDB(request.dir, { readOnly: true });
        await copy.ready();
        const inCopy = liveFiles(await copy.getProperty('rocksdb.sstables'));
        await copy.close();
        const same = inCopy.length === listed.length && inCopy.every((f) => listed.includes(f));
        if (same) return { manifest, options: options ?? null, ssts: listed };
        if (attempt >= 5) throw new Error(`the copy of ${source} did not match its live files after ${attempt} attempts`);
      } catch (e) {
        if (attempt >= 5) throw e;
      }
    }
  },
};

/** The SST file names in a 'rocksdb.sstables' property (one file per line: ' <number>:<size>[…]'). */
function liveFiles(property) {
  const out = [];
  for (const m of property.matchAll(/^\s*(\d+):\d+/gm)) out.push(`${m[1].padStart(6, '0')}.sst`);
  return out;
}

/**
 * Requests run one after another: the order of posting is the order of effect. One exception:
 * a `checkpoint` (a flush and a copy of the files, tens of ms) runs beside the reads posted after
 * it (get, scan, snapshot, release, property), which need not wait: a checkpoint changes no data,
 * and its poster posts no write for that instance until it is answered (the write gate). Any other
 * request for that instance waits for the checkpoint to end.
 */
const queue = [];
let running = false;
const READS = new Set(['get', 'scan', 'snapshot', 'release', 'property']);
/** Instance id → its running checkpoint. */
const checkpoints = new Map();

async function run(request) {
  try {
    const handler = handlers[request.op];
    if (handler === undefined) throw new Error(`unknown RocksDB request '${request.op}'`);
    answer({ id: request.id, ok: true, value: await handler(request) });
  } catch (e) {
    answer({ id: request.id, ok: false, message: e instanceof Error ? e.message : String(e) });
  }
}

async function drain() {
  running = true;
  while (queue.length > 0) {
    const request = queue.shift();
    const copying = checkpoints.get(request.db);
    if (copying !== undefined && !READS.has(request.op)) await copying;
    if (request.op === 'checkpoint') {
      const done = run(request);
      checkpoints.set(request.db, done);
      void done.then(() => {
        if (checkpoints.get(request.db) === done) checkpoints.delete(request.db);
      });
      continue;
    }
    await run(request);
  }
  running = false;
}

port.on('message', (request) => {
  queue.push(request);
  if (!running) void drain();
});

// An error outside a request would leave a waiting task thread blocked: record it in the signal
// (slot 1) so that the waiter fails with it instead of waiting forever.
process.on('uncaughtException', (e) => {
  Atomics.store(signal, 1, 1);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
  parentPort?.postMessage({ fatal: e instanceof Error ? e.stack ?? e.message : String(e) });
});
