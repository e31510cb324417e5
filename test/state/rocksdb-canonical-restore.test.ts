/**
 * Restoring canonical keyed state files (savepoints, full checkpoints) into the RocksDB backend
 * (rocksdb-canonical-restore.ts): entries are streamed into a staging RocksDB instance as the
 * files are decoded, and restoreInto adopts it. Every state kind round-trips heap → files →
 * RocksDB (whole and rescaled to sub-ranges) and RocksDB → files → RocksDB; corrupt files fail the
 * read naming the file and the frame; and a child process with a 64 MiB heap restores a snapshot
 * of more than 200 MB and reads it back.
 *
 * The same file is the child: with WEIR_CANONICAL_RESTORE_ROLE set it writes or restores the large
 * snapshot instead of registering tests.
 */
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import {
  AggregatingStateDescriptor,
  type AggregateFunction,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/api/state.ts';
import { Configuration } from '../../src/api/configuration.ts';
import { CorruptCheckpointError } from '../../src/core/errors.ts';
import { assignToKeyGroup, canonicalKey, type KeyGroupRange } from '../../src/core/key-group.ts';
import { writeKeyedState } from '../../src/state/heap/keyed-state-files.ts';
import type { KeyedStateBackend, KeyedStateSnapshot } from '../../src/state/keyed-state-backend.ts';
import { EmbeddedRocksDBStateBackend } from '../../src/state/rocksdb/embedded-rocksdb-state-backend.ts';
import type { RocksDBKeyedStateBackend } from '../../src/state/rocksdb/rocksdb-keyed-state-backend.ts';
import { resolveStateBackend } from '../../src/state/state-backend-registry.ts';
import type { StateBackend, StateBackendScope, StateFileSink, StateFileSource } from '../../src/state/state-backend.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import { timerSnapshotSetOf, type TimerSnapshot } from '../../src/state/timer-snapshot.ts';
import { FORMAT_ONE_KEYS, formatOneFile, formatOneStateFrames } from '../support/keyed-state-format-one.ts';

const MAX = 32;
const FULL: KeyGroupRange = { start: 0, end: MAX - 1 };
const LOWER: KeyGroupRange = { start: 0, end: 12 };
const UPPER: KeyGroupRange = { start: 13, end: MAX - 1 };
const scope: StateBackendScope = { jobId: 'job', operatorId: 'op-1', operatorName: 'canonical restore test', subtaskIndex: 0, parallelism: 1 };

const valueD = new ValueStateDescriptor<{ n: number; s: string } | undefined>('value');
const listD = new ListStateDescriptor<string | number>('list');
const mapD = new MapStateDescriptor<string | number, unknown>('map');
const sumD = new ReducingStateDescriptor<number>('sum', (a, b) => a + b);
const avg: AggregateFunction<number, { sum: number; count: number }, number> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (v, a) => ({ sum: a.sum + v, count: a.count + 1 }),
  getResult: (a) => a.sum / a.count,
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
};
const avgD = new AggregatingStateDescriptor('avg', avg);

/** Files by path in memory. */
class Files {
  readonly files = new Map<string, Uint8Array>();
  readonly sink: StateFileSink = async (name, payload) => {
    const path = `chk-1/${name}`;
    this.files.set(path, Uint8Array.from(payload));
    return { path, size: payload.byteLength, checksum: createHash('sha256').update(payload).digest('hex') };
  };
  readonly read: StateFileSource = async (h: StateFileHandle) => {
    const bytes = this.files.get(h.path);
    if (bytes === undefined) throw new Error(`no file ${h.path}`);
    return bytes;
  };
}

function registerTests(): void {
  const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-canonical-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const rocksdb = (): StateBackend => new EmbeddedRocksDBStateBackend({ localDir: root, cacheBytes: 64 * 1024 });
  const heap = (): StateBackend => resolveStateBackend(new Configuration({ 'state.backend.type': 'hashmap' }));

  /** Keys of several types; each key's state derived from its index. */
  const KEYS: unknown[] = [];
  for (let i = 0; i < 400; i++) KEYS.push(i % 4 === 0 ? i : i % 4 === 1 ? `k${i}` : i % 4 === 2 ? `κλειδί-${i}` : BigInt(i) * 1_000_000_000_000n);

  function populate(b: KeyedStateBackend): void {
    const value = b.getValueState(valueD);
    const list = b.getListState(listD);
    const map = b.getMapState(mapD);
    const sum = b.getReducingState(sumD);
    const mean = b.getAggregatingState(avgD);
    for (const [i, key] of KEYS.entries()) {
      b.setCurrentKey(key);
      if (i % 5 !== 0) value.update({ n: i, s: 'x'.repeat(i % 300) });
      for (let j = 0; j < i % 4; j++) list.add(j % 2 === 0 ? `e${i}-${j}` : i * 10 + j);
      // Every 50th key has a map of more than 255 pairs (the long array size in files).
      const pairs = i % 50 === 7 ? 300 : i % 6;
      for (let j = 0; j < pairs; j++) map.put(j % 2 === 0 ? `u${j}` : j, j % 3 === 0 ? { deep: [i, j] } : `v${i}-${j}`);
      if (i % 3 !== 0) {
        sum.add(i);
        sum.add(1);
      }
      if (i % 7 !== 0) {
        mean.add(i);
        mean.add(i + 2);
      }
    }
  }

  /** Every state of every key the backend has, in a comparable form. */
  function dump(b: KeyedStateBackend): Map<string, unknown> {
    const value = b.getValueState(valueD);
    const list = b.getListState(listD);
    const map = b.getMapState(mapD);
    const sum = b.getReducingState(sumD);
    const mean = b.getAggregatingState(avgD);
    const keys = new Set<unknown>();
    for (const name of ['value', 'list', 'map', 'sum', 'avg']) for (const k of b.keys(name)) keys.add(k);
    const out = new Map<string, unknown>();
    for (const key of keys) {
      b.setCurrentKey(key);
      const pairs = [...map.entries()].sort(([a], [c]) => (String(a) < String(c) ? -1 : 1));
      out.set(`${typeof key}:${String(key)}`, { value: value.value(), list: [...list.get()], map: pairs, sum: sum.get(), avg: mean.get() });
    }
    return new Map([...out].sort(([a], [c]) => (a < c ? -1 : 1)));
  }

  function only(all: Map<string, unknown>, range: KeyGroupRange): Map<string, unknown> {
    const keep = new Set(
      KEYS.filter((k) => {
        const g = assignToKeyGroup(k, MAX);
        return g >= range.start && g <= range.end;
      }).map((k) => `${typeof k}:${String(k)}`),
    );
    return new Map([...all].filter(([k]) => keep.has(k)));
  }

  async function snapshotOf(backend: StateBackend, live: KeyedStateBackend, timers?: TimerSnapshot<unknown>[]) {
    const files = new Files();
    const snapshot = live.snapshot();
    try {
      const result = await backend.writeKeyedSnapshot({
        snapshot,
        keyGroupRange: live.keyGroupRange,
        filePrefix: 'op-1-0',
        sink: files.sink,
        ...(timers !== undefined ? { timers: timerSnapshotSetOf(timers) } : {}),
      });
      return { files, handles: result.files };
    } finally {
      snapshot.release();
    }
  }

  function stagingLeft(): string[] {
    const dir = join(root, 'restore');
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true }).map(String);
  }

  test('every state kind round-trips heap → canonical files → RocksDB, whole and rescaled, with timers', async () => {
    const live = heap().createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
    populate(live);
    const want = dump(live);
    assert.equal(want.size, KEYS.length - 1); // key 0 has no state
    const timers: TimerSnapshot<unknown>[] = KEYS.slice(0, 60).map((key, i) => ({
      domain: i % 2 === 0 ? 'event' : 'processing',
      key,
      keyGroup: assignToKeyGroup(key, MAX),
      timestamp: 1000 + i,
    }));
    const { files, handles } = await snapshotOf(heap(), live, timers);
    const backend = rocksdb();
    for (const range of [FULL, LOWER, UPPER]) {
      const restored = await backend.readKeyedSnapshot(handles, files.read, range);
      assert.ok(restored.restoreInto !== undefined, 'canonical files restore through restoreInto');
      assert.deepEqual(
        restored.states.map((s) => `${s.name}:${s.kind}`).sort(),
        ['avg:aggregating', 'list:list', 'map:map', 'sum:reducing', 'value:value'],
      );
      const wantTimers = timers.filter((t) => t.keyGroup >= range.start && t.keyGroup <= range.end).map((t) => ({ ...t, canonical: canonicalKey(t.key) }));
      const byTime = (a: { timestamp: number }, b: { timestamp: number }): number => a.timestamp - b.timestamp;
      assert.deepEqual([...restored.timers].sort(byTime), wantTimers.sort(byTime));
      assert.ok(stagingLeft().length > 0, 'the entries wait in a staging instance');
      const target = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: range }) as RocksDBKeyedStateBackend;
      try {
        await restored.restoreInto(target);
        assert.equal(existsSync(join(root, 'restore')), false, 'the staging instance became the backend’s, and its directory is gone');
        const got = dump(target);
        assert.ok(got.size > 0 && (range === FULL || got.size < KEYS.length));
        assert.deepEqual(got, only(want, range), `range ${range.start}..${range.end}`);
        // The restored state is live: single user keys, changes, and a snapshot of it.
        const key = KEYS.find((k, i) => i % 50 === 7 && assignToKeyGroup(k, MAX) >= range.start && assignToKeyGroup(k, MAX) <= range.end);
        if (key !== undefined) {
          target.setCurrentKey(key);
          const map = target.getMapState(mapD);
          assert.equal(map.get('u298'), `v${KEYS.indexOf(key)}-298`);
          map.remove('u298');
          map.put('new', 1);
          assert.equal(map.get('u298'), undefined);
          assert.equal([...map.keys()].length, 300);
        }
        const back = await snapshotOf(backend, target);
        const again = heap().createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: range });
        again.restore((await heap().readKeyedSnapshot(back.handles, back.files.read, range)).data);
        assert.deepEqual(dump(again), dump(target));
      } finally {
        target.dispose();
      }
    }
  });

  test('RocksDB → canonical files → RocksDB split in two ranges holds exactly the original; data still serves restore()', async () => {
    const backend = rocksdb();
    const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
    try {
      populate(live);
      const want = dump(live);
      const { files, handles } = await snapshotOf(backend, live);
      const merged = new Map<string, unknown>();
      for (const range of [LOWER, UPPER]) {
        const target = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: range });
        try {
          await (await backend.readKeyedSnapshot(handles, files.read, range)).restoreInto!(target);
          for (const [k, v] of dump(target)) merged.set(k, v);
        } finally {
          target.dispose();
        }
      }
      assert.deepEqual(new Map([...merged].sort(([a], [c]) => (a < c ? -1 : 1))), want);
      // A caller that restores through data (KeyedStateBackend.restore) gets the staged entries decoded.
      const restored = await backend.readKeyedSnapshot(handles, files.read, UPPER);
      const onHeap = heap().createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: UPPER });
      onHeap.restore(restored.data);
      assert.deepEqual(dump(onHeap), only(want, UPPER));
      const viaHeap = heap().createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: UPPER });
      await restored.restoreInto!(viaHeap); // not a RocksDB backend: restored from data
      assert.deepEqual(dump(viaHeap), only(want, UPPER));
      assert.equal(existsSync(join(root, 'restore')), false);
    } finally {
      live.dispose();
    }
  });

  test('a corrupt or truncated file fails the read naming the file and the frame, and leaves no staging instance', async () => {
    const live = heap().createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
    populate(live);
    const { files, handles } = await snapshotOf(heap(), live);
    const victim = handles[0]!;
    const good = files.files.get(victim.path)!;
    const backend = rocksdb();

    files.files.set(victim.path, good.subarray(0, Math.floor(good.byteLength / 2)));
    await assert.rejects(backend.readKeyedSnapshot(handles, files.read, FULL), (e: unknown) => {
      assert.ok(e instanceof CorruptCheckpointError, String(e));
      assert.match(e.message, /truncated/);
      assert.ok(e.message.includes(victim.path), e.message);
      return true;
    });
    assert.equal(existsSync(join(root, 'restore')), false);

    // A map entry's pairs overwritten with a byte that is no value tag: found while staging.
    const bad = Uint8Array.from(good);
    const pairsAt = Buffer.from(bad).indexOf(Buffer.from('u0', 'utf8'), 200);
    assert.ok(pairsAt > 0);
    bad[pairsAt - 3] = 0x00;
    files.files.set(victim.path, bad);
    await assert.rejects(backend.readKeyedSnapshot(handles, files.read, FULL), (e: unknown) => {
      assert.ok(e instanceof CorruptCheckpointError, String(e));
      assert.match(e.message, /frame \d+ at offset \d+/);
      assert.ok(e.message.includes(victim.path), e.message);
      return true;
    });
    assert.equal(existsSync(join(root, 'restore')), false);
  });

  test('a snapshot of another maxParallelism is refused by restoreInto, naming a key', async () => {
    const live = heap().createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
    populate(live);
    const { files, handles } = await snapshotOf(heap(), live);
    const backend = rocksdb();
    const restored = await backend.readKeyedSnapshot(handles, files.read, FULL);
    const target = backend.createKeyedStateBackend({ ...scope, maxParallelism: 2 * MAX, keyGroupRange: FULL });
    try {
      await assert.rejects(restored.restoreInto!(target), /key .* belongs to key group \d+, not \d+ \(was the snapshot taken with a different maxParallelism\?\)/);
      assert.equal(existsSync(join(root, 'restore')), false);
    } finally {
      target.dispose();
    }
  });

  test('files of format 1 (MessagePack frames) restore into RocksDB too', async () => {
    const groupOf = (k: unknown): number => assignToKeyGroup(k, MAX);
    const keys = FORMAT_ONE_KEYS;
    const frames: unknown[][] = [...formatOneStateFrames(groupOf), [3, [[0, 'a', groupOf('a'), 1000]]]];
    const files = new Files();
    const handle = await files.sink('op-old-0-0.kstate', formatOneFile(frames));
    const backend = rocksdb();
    const restored = await backend.readKeyedSnapshot([handle], files.read, FULL);
    assert.deepEqual(restored.timers.map((t) => [t.domain, t.key, t.timestamp]), [['event', 'a', 1000]]);
    const target = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
    try {
      await restored.restoreInto!(target);
      const value = target.getValueState(new ValueStateDescriptor<{ n: number; when: Date }>('v'));
      const list = target.getListState(new ListStateDescriptor<unknown>('l'));
      const map = target.getMapState(new MapStateDescriptor<unknown, unknown>('m'));
      for (const [i, k] of keys.entries()) {
        target.setCurrentKey(k);
        assert.deepEqual(value.value(), { n: i, when: new Date(i) });
        assert.deepEqual([...list.get()], [i, `e${i}`]);
      }
      target.setCurrentKey('a');
      assert.deepEqual(map.get('u'), { v: 1 });
      assert.deepEqual(map.get(['p', 2]), 3n);
      assert.equal([...map.keys()].length, 2);
    } finally {
      target.dispose();
    }
  });

  test('a snapshot larger than the heap restores into RocksDB in a child with a 64 MiB heap', { timeout: 120_000 }, async (t) => {
    const dir = join(root, 'large');
    mkdirSync(dir, { recursive: true });
    const self = fileURLToPath(import.meta.url);
    const run = (roleName: string, args: string[], heapMiB?: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const flags = heapMiB === undefined ? [] : [`--max-old-space-size=${heapMiB}`];
        const child = spawn(process.execPath, [...flags, '--import', 'tsx', self, ...args], {
          env: { ...process.env, WEIR_CANONICAL_RESTORE_ROLE: roleName },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('exit', (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`${roleName} child exited ${code ?? signal}: ${err.slice(-3000)}`))));
      });
    const written = JSON.parse((await run('write', [dir])).trim().split('\n').pop()!) as { bytes: number; keys: number; files: number };
    assert.ok(written.bytes > 200 * 1024 * 1024, `a snapshot of ${written.bytes} bytes`);
    const r = JSON.parse((await run('restore', [dir, join(root, 'large-restore')], 64)).trim().split('\n').pop()!) as Record<string, number>;
    const mib = (n: number): string => (n / 1024 / 1024).toFixed(0);
    t.diagnostic(
      `snapshot ${mib(written.bytes)} MiB in ${written.files} files, ${written.keys} keys; restored in ${r.ms} ms with heap limit ${mib(r.heapLimit!)} MiB, ` +
        `peak heap used ${mib(r.peakHeap!)} MiB, peak RSS ${mib(r.maxRss!)} MiB`,
    );
    assert.equal(r.keys, written.keys);
    assert.equal(r.mapKeys, Math.ceil(written.keys / 100));
    assert.ok(r.checked! >= 200);
    // The heap limit counts the young generation too (64 MiB of old space make about 112 MiB).
    assert.ok(r.heapLimit! < written.bytes * 0.6, 'the state is larger than the whole heap');
    assert.ok(r.peakHeap! < written.bytes / 4, 'the heap never held a sizeable part of the state');
  });
}


// ---------------------------------------------------------------------------------------------
// The child's roles: a snapshot of LARGE_KEYS keys of ~2 KB (written from generated entries, so
// that the writer never holds the state), then its restore.

const LARGE_KEYS = 110_000;
const PAD = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(56); // 2016 chars
const largeValue = (k: number): string => `${k}:${PAD.slice(k % 97)}${k}`;
const largeMap = (k: number): [string, number][] => [
  [`a${k}`, k],
  [`b${k}`, -k],
];

async function writeLarge(dir: string): Promise<void> {
  const byGroup: number[][] = Array.from({ length: MAX }, () => []);
  for (let k = 0; k < LARGE_KEYS; k++) byGroup[assignToKeyGroup(`key-${k}`, MAX)]!.push(k);
  const snapshot: KeyedStateSnapshot = {
    states: [
      { name: 'big', kind: 'value' },
      { name: 'tags', kind: 'map' },
    ],
    *entries(name, keyGroup) {
      for (const k of byGroup[keyGroup]!) {
        if (name === 'big') yield [`key-${k}`, largeValue(k)];
        else if (k % 100 === 0) yield [`key-${k}`, new Map(largeMap(k).map((p) => [p[0], p]))];
      }
    },
    release() {},
  };
  const handles: StateFileHandle[] = [];
  const result = await writeKeyedState({
    snapshot,
    keyGroupRange: FULL,
    filePrefix: 'op-large-0',
    sliceMs: 50,
    sink: async (name, payload) => {
      await writeFile(join(dir, name), payload);
      const h = { path: name, size: payload.byteLength, checksum: 'unchecked' };
      handles.push(h);
      return h;
    },
  });
  writeFileSync(join(dir, 'handles.json'), JSON.stringify(result.files));
  console.log(JSON.stringify({ bytes: result.bytes, keys: LARGE_KEYS, files: result.files.length }));
}

async function restoreLarge(dir: string, localDir: string): Promise<void> {
  const handles = JSON.parse(readFileSync(join(dir, 'handles.json'), 'utf8')) as StateFileHandle[];
  let peakHeap = 0;
  const sample = (): void => {
    peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size);
  };
  const timer = setInterval(sample, 5);
  const started = performance.now();
  const backend = new EmbeddedRocksDBStateBackend({ localDir, cacheBytes: 4 * 1024 * 1024 });
  const restored = await backend.readKeyedSnapshot(handles, (h) => readFile(join(dir, h.path)), FULL);
  const target = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  await restored.restoreInto!(target);
  const ms = Math.round(performance.now() - started);
  sample();
  const big = target.getValueState(new ValueStateDescriptor<string>('big'));
  const tags = target.getMapState(new MapStateDescriptor<string, number>('tags'));
  let checked = 0;
  for (let k = 0; k < LARGE_KEYS; k += 499) {
    target.setCurrentKey(`key-${k}`);
    assert.equal(big.value(), largeValue(k));
    if (k % 100 === 0) assert.deepEqual([...tags.entries()].sort(), largeMap(k));
    else assert.equal(tags.isEmpty(), true);
    checked++;
  }
  let keys = 0;
  for (const _ of target.keys('big')) keys++;
  let mapKeys = 0;
  for (const _ of target.keys('tags')) mapKeys++;
  sample();
  clearInterval(timer);
  target.dispose();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ ms, keys, mapKeys, checked, heapLimit: getHeapStatistics().heap_size_limit, peakHeap, maxRss }));
}

const role = process.env.WEIR_CANONICAL_RESTORE_ROLE;
if (role === 'write') await writeLarge(process.argv[2]!);
else if (role === 'restore') await restoreLarge(process.argv[2]!, process.argv[3]!);
else registerTests();
