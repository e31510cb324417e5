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

/** The values of `keys` (null where missing) in one read batch. */
async function readMany(from, keys) {
  const batch = from.read({ capacity: keys.length });
  const pending = keys.map((k) => batch.get(k));
  await batch.flush();
  const found = await Promise.all(pending);
  batch.destroy();
  return found;
}

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

  /**
   * Puts in one write batch, on the ordered lane but not listed in the overlay: for an instance
   * that no get reads while they are pending (a restore's staging instance). The entries are
   * plain views into the packed bytes, so a large batch costs one small object per key and value.
   */
  async bulkWrite(request) {
    const { keys, values } = request;
    const n = keys.offsets.length - 1;
    if (n === 0) return null; // see write: never a batch of capacity 0
    const batch = db(request.db).write({ capacity: n });
    const kb = keys.bytes;
    const ko = keys.offsets;
    const vb = values.bytes;
    const vo = values.offsets;
    for (let i = 0; i < n; i++) batch.tryPut(kb.subarray(ko[i], ko[i + 1]), vb.subarray(vo[i], vo[i + 1]));
    await batch.flush();
    batch.destroy();
    return null;
  },

  /** Values of the keys (null for a missing key), packed; `present[i]` says which exist. */
  async get(request) {
    const { keys } = request;
    const n = keys.offsets.length - 1;
    const found = n === 0 ? [] : await readMany(session(request), Array.from({ length: n }, (_, i) => view(keys.bytes, keys.offsets, i)));
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

  /** Does nothing: answered once every request posted before it on the ordered lane has run. */
  async barrier() {
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
 * Scheduling. The effect of requests on one instance is that of running them one after another
 * in the order they were posted, but reads do not wait behind slower requests:
 *
 * - Every request that changes the instance or must see all earlier changes (write, deleteRange,
 *   flush, checkpoint, snapshot, scan of the live instance, open, close, bulkWrite) runs in posting order on
 *   the instance's ordered lane, each after the one before has finished.
 * - A `get` runs at once, beside the ordered lane. Writes posted before it that have not reached
 *   RocksDB yet are in the instance's overlay (key → value of the newest such write): keys found
 *   there are answered from it, the others read from RocksDB, which holds every write posted
 *   before that is no longer in the overlay. So a read posted after a write sees it, also while
 *   that write waits for a flush or a write stall, or behind a checkpoint's flush and copy. (A
 *   read may also see a write posted after it, which only a poster that does not wait for its
 *   read can have posted; the keyed backend drops such prefetch answers.) While a deleteRange or
 *   close is pending, gets wait on the ordered lane instead (the overlay does not cover them).
 * - A scan of a RocksDB snapshot, `release` and `property` run at once: a snapshot's view never
 *   changes, and properties change no data.
 *
 * Every answer carries `q` (ms from arrival to start) and `r` (ms running), and, for a request
 * that carries the absolute time it was posted (`sent`), `i` (ms from posting to arrival), which
 * the task side hands to an observer when one is installed (where a processing pause came from).
 */
class Lanes {
  /** The ordered lane: settles when the last request put on it has run. */
  tail = Promise.resolve();
  /** Key (latin1) → the newest write of it not yet in RocksDB: `{ value }` (null: a deletion). */
  overlay = new Map();
  /** deleteRange or close requests on the ordered lane that have not run yet. */
  barriers = 0;
  /** Gets and snapshot scans running beside the ordered lane. */
  running = new Set();
}

/** Instance id → its lanes (instance 0: requests before an instance exists, such as open). */
const lanes = new Map();

function lanesOf(id) {
  let l = lanes.get(id ?? 0);
  if (l === undefined) {
    l = new Lanes();
    lanes.set(id ?? 0, l);
  }
  return l;
}

async function run(request, arrived, handler = handlers[request.op]) {
  const started = performance.now();
  const i = request.sent === undefined ? undefined : performance.timeOrigin + arrived - request.sent;
  try {
    if (handler === undefined) throw new Error(`unknown RocksDB request '${request.op}'`);
    const value = await handler(request);
    answer({ id: request.id, ok: true, value, q: started - arrived, r: performance.now() - started, i });
  } catch (e) {
    answer({ id: request.id, ok: false, message: e instanceof Error ? e.message : String(e), q: started - arrived, r: performance.now() - started, i });
  }
}

function ordered(l, request, arrived, handler) {
  const done = l.tail.then(() => run(request, arrived, handler));
  l.tail = done;
  return done;
}

function beside(l, request, arrived, handler) {
  const done = run(request, arrived, handler);
  l.running.add(done);
  void done.then(() => l.running.delete(done));
}

/** A get: keys written by requests still on the ordered lane are answered from the overlay. */
function overlaidGet(l) {
  const overlay = l.overlay;
  return async (request) => {
    const { keys } = request;
    const n = keys.offsets.length - 1;
    const fromOverlay = new Array(n);
    const missing = [];
    for (let i = 0; i < n; i++) {
      const w = overlay.size === 0 ? undefined : overlay.get(view(keys.bytes, keys.offsets, i).toString('latin1'));
      if (w === undefined) missing.push(i);
      else fromOverlay[i] = w;
    }
    const read = missing.length === 0 ? undefined : await readMany(session(request), missing.map((i) => view(keys.bytes, keys.offsets, i)));
    const present = new Uint8Array(n);
    const parts = new Array(n);
    for (let i = 0; i < n; i++) {
      const w = fromOverlay[i];
      const v = w !== undefined ? w.value : null;
      parts[i] = w !== undefined ? (v ?? new Uint8Array(0)) : new Uint8Array(0);
      present[i] = w !== undefined && v !== null ? 1 : 0;
    }
    if (read !== undefined) {
      for (let j = 0; j < missing.length; j++) {
        const v = read[j];
        present[missing[j]] = v === null ? 0 : 1;
        parts[missing[j]] = v === null ? new Uint8Array(0) : v;
      }
    }
    return { values: pack(parts), present };
  };
}

/** A write: listed in the overlay at once, removed once it is in RocksDB. */
function overlaidWrite(l, request) {
  const { keys, values, deletes } = request;
  const n = keys.offsets.length - 1;
  const deleted = new Set(deletes);
  const names = new Array(n);
  const entries = new Array(n);
  for (let i = 0; i < n; i++) {
    names[i] = view(keys.bytes, keys.offsets, i).toString('latin1');
    entries[i] = { value: deleted.has(i) ? null : view(values.bytes, values.offsets, i) };
    l.overlay.set(names[i], entries[i]);
  }
  return async (r) => {
    try {
      return await handlers.write(r);
    } finally {
      for (let i = 0; i < n; i++) if (l.overlay.get(names[i]) === entries[i]) l.overlay.delete(names[i]);
    }
  };
}

function dispatch(request) {
  const arrived = performance.now();
  const l = lanesOf(request.db);
  switch (request.op) {
    case 'get':
      if (request.snapshot !== undefined) beside(l, request, arrived);
      else if (l.barriers > 0) ordered(l, request, arrived);
      else beside(l, request, arrived, overlaidGet(l));
      return;
    case 'scan':
      if (request.snapshot !== undefined) beside(l, request, arrived);
      else ordered(l, request, arrived);
      return;
    case 'property':
      beside(l, request, arrived);
      return;
    case 'release':
      // After the scans of that snapshot already running.
      void Promise.allSettled([...l.running]).then(() => run(request, arrived));
      return;
    case 'write':
      ordered(l, request, arrived, overlaidWrite(l, request));
      return;
    case 'deleteRange':
    case 'close': {
      l.barriers++;
      const handler = handlers[request.op];
      ordered(l, request, arrived, async (r) => {
        try {
          await Promise.allSettled([...l.running]);
          return await handler(r);
        } finally {
          l.barriers--;
          if (r.op === 'close' && l.barriers === 0) lanes.delete(r.db);
        }
      });
      return;
    }
    default:
      ordered(l, request, arrived);
  }
}

port.on('message', dispatch);

// An error outside a request would leave a waiting task thread blocked: record it in the signal
// (slot 1) so that the waiter fails with it instead of waiting forever.
process.on('uncaughtException', (e) => {
  Atomics.store(signal, 1, 1);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
  parentPort?.postMessage({ fatal: e instanceof Error ? e.stack ?? e.message : String(e) });
});
