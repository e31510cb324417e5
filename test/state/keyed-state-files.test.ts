import { test } from 'node:test';
import type { CheckpointId } from '../../src/core/ids.ts';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/api/state.ts';
import type { AggregateFunction } from '../../src/api/state.ts';
import type { StateFileHandle } from '../../src/checkpoint/checkpoint-types.ts';
import { CorruptCheckpointError, FileSystemCheckpointStorage } from '../../src/checkpoint/filesystem-checkpoint-storage.ts';
import { readKeyedState, writeKeyedState } from '../../src/state/heap/keyed-state-files.ts';
import type { KeyedStateWriteOptions, KeyedStateWriteResult, StateFileSink } from '../../src/state/heap/keyed-state-files.ts';
import { decodeValue, encodeValue, registerType } from '../../src/core/record-codec.ts';
import type { TimerSnapshot } from '../../src/runtime/timer-service.ts';
import { timerSnapshotSetOf } from '../../src/state/timer-snapshot.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap/heap-keyed-state-backend.ts';
import { assignToKeyGroup, canonicalKey, keyGroupRangeContains } from '../../src/core/key-group.ts';
import type { KeyGroupRange, PrimitiveKey } from '../../src/core/key-group.ts';
import { FORMAT_ONE_KEYS, formatOneFile, formatOneStateFrames } from '../support/keyed-state-format-one.ts';

const JOB = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const MAX_PARALLELISM = 128;
const FULL: KeyGroupRange = { start: 0, end: 127 };
const LOWER: KeyGroupRange = { start: 0, end: 63 };
const UPPER: KeyGroupRange = { start: 64, end: 127 };

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  norm(): number {
    return Math.abs(this.x) + Math.abs(this.y);
  }
}
registerType(Point, 'test.keyed-state-files.Point');

interface Avg {
  sum: number;
  count: number;
}
const average: AggregateFunction<number, Avg, number> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (v, acc) => {
    acc.sum += v;
    acc.count++;
    return acc;
  },
  getResult: (acc) => acc.sum / acc.count,
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
};

const D = {
  value: new ValueStateDescriptor<{ n: number; s: string; d: Date; big: bigint; nested: { list: number[] } }>('value'),
  point: new ValueStateDescriptor<Point>('point'),
  list: new ListStateDescriptor<number | string>('list'),
  map: new MapStateDescriptor<string | number | bigint | (string | number)[], { v: number } | Point>('map'),
  reducing: new ReducingStateDescriptor<number>('reducing', (a, b) => a + b),
  aggregating: new AggregatingStateDescriptor<number, Avg, number>('aggregating', average),
};

/** A key of one of four kinds: string, number, bigint, array. */
function keyOf(i: number): unknown {
  switch (i % 4) {
    case 0:
      return `key-${i}`;
    case 1:
      return i * 7.5;
    case 2:
      return BigInt(i) * 10_000_000_000_000n;
    default:
      return ['k', i, [i % 3, true]];
  }
}

function backend(range: KeyGroupRange = FULL): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend({ maxParallelism: MAX_PARALLELISM, keyGroupRange: range, where: 'test' });
}

/** Puts state of every kind for key i (keys are skipped when the backend does not own them). */
function put(b: HeapKeyedStateBackend, i: number): void {
  const key = keyOf(i);
  if (!keyGroupRangeContains(b.keyGroupRange, assignToKeyGroup(key, MAX_PARALLELISM))) return;
  b.setCurrentKey(key);
  b.getValueState(D.value).update({ n: i, s: `s${i}`, d: new Date(i * 1000), big: BigInt(i) << 70n, nested: { list: [i, i + 1] } });
  if (i % 2 === 0) b.getValueState(D.point).update(new Point(i, -i - 1)); // the codec sends -0 as 0
  const list = b.getListState(D.list);
  for (let j = 0; j <= i % 4; j++) list.add(j % 2 === 0 ? j : `e${j}`);
  if (i % 3 !== 2) {
    const map = b.getMapState(D.map);
    map.put(`u${i}`, { v: i });
    map.put(i, new Point(1, i));
    map.put(BigInt(i), { v: -i - 1 });
    map.put(['x', i], { v: i * 2 });
  }
  b.getReducingState(D.reducing).add(i);
  b.getReducingState(D.reducing).add(1);
  b.getAggregatingState(D.aggregating).add(i);
  b.getAggregatingState(D.aggregating).add(i + 2);
}

function populate(b: HeapKeyedStateBackend, from: number, to: number): HeapKeyedStateBackend {
  for (let i = from; i < to; i++) put(b, i);
  return b;
}

type Dump = Map<string, Map<PrimitiveKey, [unknown, unknown]>>;

/** Every non-empty state's entries (stored representation), by `name:kind` then canonical key. */
function dump(b: HeapKeyedStateBackend, onlyRange: KeyGroupRange = b.keyGroupRange): Dump {
  const snapshot = b.snapshot();
  try {
    const out: Dump = new Map();
    for (const s of snapshot.states) {
      const entries = new Map<PrimitiveKey, [unknown, unknown]>();
      for (let kg = b.keyGroupRange.start; kg <= b.keyGroupRange.end; kg++) {
        if (!keyGroupRangeContains(onlyRange, kg)) continue;
        for (const [key, value] of snapshot.entries(s.name, kg)) entries.set(canonicalKey(key), [key, value]);
      }
      if (entries.size > 0) out.set(`${s.name}:${s.kind}`, entries);
    }
    return out;
  } finally {
    snapshot.release();
  }
}

function deepCopy<T>(value: T): T {
  return decodeValue(encodeValue(value)) as T;
}

function merge(...dumps: Dump[]): Dump {
  const out: Dump = new Map();
  for (const d of dumps) {
    for (const [state, entries] of d) {
      const into = out.get(state) ?? new Map<PrimitiveKey, [unknown, unknown]>();
      for (const [k, v] of entries) into.set(k, v);
      out.set(state, into);
    }
  }
  return out;
}

async function withStorage(
  fn: (io: { storage: FileSystemCheckpointStorage; sink: StateFileSink; read: (h: StateFileHandle) => Promise<Uint8Array> }) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-keyed-state-files-'));
  try {
    const storage = new FileSystemCheckpointStorage(dir, JOB);
    await fn({
      storage,
      sink: (name, payload) => storage.writeStateFile((1 as CheckpointId), name, payload),
      read: (h) => storage.readStateFile(h),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function write(
  b: HeapKeyedStateBackend,
  sink: StateFileSink,
  extra: Partial<KeyedStateWriteOptions> = {},
): Promise<Awaited<ReturnType<typeof writeKeyedState>>> {
  const snapshot = b.snapshot();
  try {
    return await writeKeyedState({ snapshot, keyGroupRange: b.keyGroupRange, filePrefix: 'op-test-0', sink, ...extra });
  } finally {
    snapshot.release();
  }
}

/** Offsets of the frames of a payload (after the 8-byte header). */
function frameOffsets(payload: Uint8Array): number[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const out: number[] = [];
  for (let offset = 8; offset < payload.byteLength; offset += 4 + view.getUint32(offset, true)) out.push(offset);
  return out;
}

test('keyed state files: every kind of state and key round-trips into a fresh backend', async () => {
  await withStorage(async ({ sink, read }) => {
    const original = populate(backend(), 0, 1200);
    const result = await write(original, sink);
    assert.ok(result.files.length >= 1);
    assert.equal(result.bytes, result.files.reduce((n, f) => n + f.size, 0));
    const expected = dump(original);
    assert.equal(result.entries, [...expected.values()].reduce((n, m) => n + m.size, 0));
    assert.deepEqual([...expected.keys()].sort(), [
      'aggregating:aggregating',
      'list:list',
      'map:map',
      'point:value',
      'reducing:reducing',
      'value:value',
    ]);

    const restored = await readKeyedState(result.files, read, FULL);
    assert.deepEqual(
      restored.states,
      ['value', 'point', 'list', 'map', 'reducing', 'aggregating'].map((name) => ({
        name,
        kind: name === 'point' ? 'value' : name,
      })),
    );
    const fresh = backend();
    fresh.restore(restored.data);
    assert.deepEqual(dump(fresh), expected);

    // Entry by entry through the state API, including class prototypes and bigint/array keys.
    for (let i = 0; i < 1200; i++) {
      const key = keyOf(i);
      original.setCurrentKey(key);
      fresh.setCurrentKey(key);
      assert.deepEqual(fresh.getValueState(D.value).value(), original.getValueState(D.value).value());
      const point = fresh.getValueState(D.point).value();
      assert.deepEqual(point, original.getValueState(D.point).value());
      if (point !== undefined) assert.equal(point.norm(), 2 * i + 1);
      assert.deepEqual(fresh.getListState(D.list).get(), original.getListState(D.list).get());
      assert.deepEqual([...fresh.getMapState(D.map).entries()], [...original.getMapState(D.map).entries()]);
      assert.deepEqual(fresh.getMapState(D.map).get(['x', i]), original.getMapState(D.map).get(['x', i]));
      assert.equal(fresh.getReducingState(D.reducing).get(), original.getReducingState(D.reducing).get());
      assert.equal(fresh.getAggregatingState(D.aggregating).get(), i + 1);
    }
    original.dispose();
    fresh.dispose();
  });
});

test('keyed state files: the files hold the state as of snapshot(), whatever the live state does meanwhile', async () => {
  await withStorage(async ({ sink, read }) => {
    const b = populate(backend(), 0, 800);
    const expected = deepCopy(dump(b));
    const snapshot = b.snapshot();
    let round = 0;
    const mutate = (): void => {
      for (let j = 0; j < 20; j++) {
        const i = (round * 37 + j * 11) % 900; // also keys that did not exist
        b.setCurrentKey(keyOf(i));
        switch ((round + j) % 6) {
          case 0: {
            const v = b.getValueState(D.value).value();
            if (v !== undefined) v.nested.list.push(-1); // in place
            b.getValueState(D.value).update({ n: -i, s: 'changed', d: new Date(0), big: 0n, nested: { list: [] } });
            break;
          }
          case 1:
            b.getListState(D.list).add('appended');
            b.getListState(D.list).get().push('pushed in place');
            break;
          case 2:
            b.getMapState(D.map).put(`u${i}`, { v: 999 });
            b.getMapState(D.map).remove(i);
            break;
          case 3:
            b.getReducingState(D.reducing).add(1000);
            b.getAggregatingState(D.aggregating).add(1000);
            break;
          case 4:
            b.getValueState(D.value).clear();
            b.getListState(D.list).clear();
            b.getMapState(D.map).clear();
            break;
          default: {
            const p = b.getValueState(D.point).value();
            if (p !== undefined) p.x = 12345;
            else b.getValueState(D.point).update(new Point(0, 0));
          }
        }
      }
      round++;
    };
    let result: KeyedStateWriteResult;
    try {
      result = await writeKeyedState({
        snapshot,
        keyGroupRange: FULL,
        filePrefix: 'op-live-0',
        sink,
        sliceMs: 0,
        yieldControl: async () => {
          mutate();
          await nextTurn();
        },
      });
      // The writer leaves the snapshot to its owner, but the key groups it wrote are no longer kept.
      assert.throws(() => snapshot.entries('value', 0), /key group 0 .* was written and is no longer kept/);
    } finally {
      snapshot.release();
    }
    assert.ok(round > 50, `mutated during ${round} yields`);
    assert.notDeepEqual(dump(b), expected, 'the live state changed');
    const fresh = backend();
    fresh.restore((await readKeyedState(result.files, read, FULL)).data);
    assert.deepEqual(dump(fresh), expected);
    b.dispose();
    fresh.dispose();
  });
});

test('keyed state files: split into two key group ranges, and merged from two subtasks', async () => {
  await withStorage(async ({ sink, read }) => {
    // One subtask owning all key groups, rescaled to two.
    const whole = populate(backend(FULL), 0, 1000);
    const { files } = await write(whole, sink, { filePrefix: 'op-split-0', fileBytes: 16 * 1024 });
    assert.ok(files.length > 1);
    for (const range of [LOWER, UPPER]) {
      const restored = await readKeyedState(files, read, range);
      assert.ok(restored.data.length > 0);
      for (const part of restored.data) assert.ok(keyGroupRangeContains(range, part.keyGroup), `key group ${part.keyGroup}`);
      assert.equal(restored.states.length, 6);
      const half = backend(range);
      half.restore(restored.data);
      assert.deepEqual(dump(half), dump(whole, range));
      half.dispose();
    }

    // Two subtasks, merged into one; and into a range that takes from both.
    const lower = populate(backend(LOWER), 0, 1000);
    const upper = populate(backend(UPPER), 0, 1000);
    const a = await write(lower, sink, { filePrefix: 'op-merge-0' });
    const b = await write(upper, sink, { filePrefix: 'op-merge-1' });
    const both = [...a.files, ...b.files];
    const merged = backend(FULL);
    merged.restore((await readKeyedState(both, read, FULL)).data);
    assert.deepEqual(dump(merged), merge(dump(lower), dump(upper)));
    assert.deepEqual(dump(merged), dump(whole));

    const middleRange = { start: 32, end: 95 };
    const middle = backend(middleRange);
    middle.restore((await readKeyedState(both, read, middleRange)).data);
    assert.deepEqual(dump(middle), dump(whole, middleRange));
    for (const x of [whole, lower, upper, merged, middle]) x.dispose();
  });
});

test('keyed state files: timers round-trip and are filtered by key group range', async () => {
  await withStorage(async ({ sink, read }) => {
    const b = populate(backend(), 0, 50);
    const timers: TimerSnapshot<unknown>[] = [];
    for (let i = 0; i < 700; i++) {
      const key = keyOf(i);
      timers.push({
        domain: i % 3 === 0 ? 'processing' : 'event',
        key,
        keyGroup: assignToKeyGroup(key, MAX_PARALLELISM),
        timestamp: 1_700_000_000_000 + i * 13.5,
      });
    }
    const { files } = await write(b, sink, { timers: timerSnapshotSetOf(timers), fileBytes: 8 * 1024 });
    const all = await readKeyedState(files, read, FULL);
    assert.deepEqual(
      all.timers,
      timers.map((t) => ({ ...t, canonical: canonicalKey(t.key) })),
    );
    const lower = await readKeyedState(files, read, LOWER);
    const expectedLower = timers.filter((t) => t.keyGroup <= 63);
    assert.ok(expectedLower.length > 0 && expectedLower.length < timers.length);
    assert.deepEqual(
      lower.timers,
      expectedLower.map((t) => ({ ...t, canonical: canonicalKey(t.key) })),
    );
    // Timers alone, without state.
    const empty = backend();
    const only = await write(empty, sink, { timers: timerSnapshotSetOf(timers.slice(0, 3)), filePrefix: 'op-timers-0' });
    assert.equal(only.files.length, 1);
    assert.equal(only.entries, 0);
    const back = await readKeyedState(only.files, read, FULL);
    assert.equal(back.timers.length, 3);
    assert.deepEqual(back.data, []);
    assert.deepEqual(back.states, []);
    b.dispose();
    empty.dispose();
  });
});

test('keyed state files: serialisation yields once each slice is spent', async () => {
  const b = backend();
  const state = b.getValueState(new ValueStateDescriptor<number>('n'));
  for (let i = 0; i < 10_000; i++) {
    b.setCurrentKey(i);
    state.update(i);
  }
  const payloads: Uint8Array[] = [];
  const sink: StateFileSink = async (name, payload) => {
    payloads.push(payload);
    return { path: `chk-1/${name}`, size: payload.byteLength, checksum: '0'.repeat(64) };
  };

  // A fake clock that advances 1 ms per reading: with 2 ms slices, a yield every other frame.
  let clock = 0;
  let yields = 0;
  const result = await write(b, sink, {
    sliceMs: 2,
    now: () => clock++,
    yieldControl: async () => {
      yields++;
    },
  });
  assert.equal(result.entries, 10_000);
  assert.ok(yields >= 30, `yielded ${yields} times`);

  // With the real clock, no synchronous stretch between yields is long (values large enough
  // that writing takes several slices).
  const samples = b.getValueState(new ValueStateDescriptor<number[]>('samples'));
  for (let i = 0; i < 10_000; i++) {
    b.setCurrentKey(i);
    samples.update(Array.from({ length: 100 }, (_, j) => i + j / 7));
  }
  let last = performance.now();
  let longest = 0;
  let realYields = 0;
  await write(b, sink, {
    sliceMs: 1,
    yieldControl: async () => {
      longest = Math.max(longest, performance.now() - last);
      realYields++;
      await nextTurn();
      last = performance.now();
    },
  });
  longest = Math.max(longest, performance.now() - last);
  assert.ok(realYields > 0);
  assert.ok(longest < 100, `longest synchronous slice ${longest.toFixed(1)} ms`);
  b.dispose();
});

test('keyed state files: files are cut by fileBytes, named in order, with at most two writes in flight', async () => {
  await withStorage(async ({ sink, read }) => {
    const b = populate(backend(), 0, 1500);
    let inFlight = 0;
    let most = 0;
    const names: string[] = [];
    const slowSink: StateFileSink = async (name, payload) => {
      names.push(name);
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return await sink(name, payload);
      } finally {
        inFlight--;
      }
    };
    const fileBytes = 24 * 1024;
    const result = await write(b, slowSink, { filePrefix: 'op-cut-3', fileBytes, sliceMs: 0, yieldControl: async () => {} });
    assert.ok(result.files.length >= 5, `${result.files.length} files`);
    assert.deepEqual(
      names,
      result.files.map((_, n) => `op-cut-3-${n}.kstate`),
    );
    assert.deepEqual(
      result.files.map((f) => f.path),
      names.map((n) => `chk-1/${n}`),
    );
    for (const f of result.files.slice(0, -1)) assert.ok(f.size >= fileBytes, `file of ${f.size} bytes`);
    assert.ok(most <= 2 && most >= 1, `${most} writes in flight`);
    assert.equal(inFlight, 0, 'every write finished before the result');
    assert.equal(result.bytes, result.files.reduce((n, f) => n + f.size, 0));

    const fresh = backend();
    fresh.restore((await readKeyedState(result.files, read, FULL)).data);
    assert.deepEqual(dump(fresh), dump(b));
    b.dispose();
    fresh.dispose();
  });
});

test('keyed state files: empty state gives no files; declared states without entries are still known', async () => {
  await withStorage(async ({ sink, read }) => {
    const empty = backend();
    const none = await write(empty, sink);
    assert.deepEqual(none, { files: [], bytes: 0, entries: 0 });
    assert.deepEqual(await readKeyedState([], read, FULL), { data: [], timers: [], states: [] });

    const declared = backend();
    declared.getListState(new ListStateDescriptor<number>('l'));
    declared.getMapState(new MapStateDescriptor<string, number>('m'));
    const result = await write(declared, sink, { filePrefix: 'op-declared-0' });
    assert.equal(result.files.length, 1);
    assert.equal(result.entries, 0);
    const back = await readKeyedState(result.files, read, LOWER);
    assert.deepEqual(back.data, []);
    assert.deepEqual(back.states, [
      { name: 'l', kind: 'list' },
      { name: 'm', kind: 'map' },
    ]);

    // States known even when none of their entries fall in the range.
    const upperOnly = backend(UPPER);
    populate(upperOnly, 0, 100);
    const upperFiles = await write(upperOnly, sink, { filePrefix: 'op-upper-1' });
    const lower = await readKeyedState(upperFiles.files, read, LOWER);
    assert.deepEqual(lower.data, []);
    assert.equal(lower.states.length, 6);
    for (const x of [empty, declared, upperOnly]) x.dispose();
  });
});

test('keyed state files: corrupt and truncated files give errors naming the file', async () => {
  await withStorage(async ({ storage, sink, read }) => {
    const b = populate(backend(), 0, 300);
    const { files } = await write(b, sink, { timers: timerSnapshotSetOf([{ domain: 'event', key: 'k', keyGroup: assignToKeyGroup('k', 128), timestamp: 5 }]) });
    assert.equal(files.length, 1);
    const handle = files[0]!;
    const payload = await read(handle);

    const attempt = (bytes: Uint8Array): Promise<unknown> => readKeyedState([handle], async () => bytes, FULL);
    const rejectsWith = async (bytes: Uint8Array, problem: RegExp): Promise<void> => {
      await assert.rejects(attempt(bytes), (e: unknown) => {
        assert.ok(e instanceof CorruptCheckpointError, String(e));
        assert.ok(e.message.includes(handle.path), e.message);
        assert.match(e.message, problem);
        return true;
      });
    };
    await rejectsWith(payload.subarray(0, payload.byteLength - 7), /truncated/);
    await rejectsWith(payload.subarray(0, 5), /too short/);
    await rejectsWith(payload.subarray(0, 8), /end frame is missing/);
    const offsets = frameOffsets(payload);
    await rejectsWith(payload.subarray(0, offsets[offsets.length - 1]), /end frame is missing/);
    await rejectsWith(payload.subarray(0, offsets[offsets.length - 1]! + 2), /too few for a frame length/);
    const badMagic = payload.slice();
    badMagic[0] = 0x58;
    await rejectsWith(badMagic, /bad magic/);
    const badVersion = payload.slice();
    badVersion[4] = 9;
    await rejectsWith(badVersion, /version 9/);
    const extra = new Uint8Array(payload.byteLength + 3);
    extra.set(payload);
    await rejectsWith(extra, /after the end frame/);
    const garbled = payload.slice();
    garbled.fill(0xc1, offsets[1]! + 4, offsets[1]! + 12); // 0xc1 is never valid MessagePack
    await rejectsWith(garbled, /frame 1 at offset \d+/);

    // A file changed on disk: the storage's checksum catches it, and the error names the file.
    const onDisk = join(storage.jobDir, ...handle.path.split('/'));
    const raw = await readFile(onDisk);
    raw.writeUInt8(raw.readUInt8(raw.byteLength - 20) ^ 0xff, raw.byteLength - 20);
    await writeFile(onDisk, raw);
    await assert.rejects(readKeyedState(files, read, FULL), (e: unknown) => {
      assert.ok(e instanceof Error && e.message.includes(handle.path), String(e));
      return true;
    });

    // A read that fails without naming the file is wrapped in an error that does.
    await assert.rejects(
      readKeyedState(files, async () => {
        throw new Error('disk on fire');
      }, FULL),
      (e: unknown) => e instanceof Error && e.message.includes(handle.path) && e.message.includes('disk on fire'),
    );
    b.dispose();
  });
});

test('keyed state files: an aborted signal rejects with its reason, after pending writes settle', async () => {
  await withStorage(async ({ sink }) => {
    const b = populate(backend(), 0, 600);
    const controller = new AbortController();
    const reason = new Error('checkpoint 1 was cancelled');
    let yields = 0;
    let inFlight = 0;
    let sinkCalls = 0;
    const trackingSink: StateFileSink = async (name, payload) => {
      sinkCalls++;
      inFlight++;
      try {
        return await sink(name, payload);
      } finally {
        inFlight--;
      }
    };
    await assert.rejects(
      write(b, trackingSink, {
        fileBytes: 1024,
        sliceMs: 0,
        signal: controller.signal,
        yieldControl: async () => {
          if (++yields === 10) controller.abort(reason);
          await nextTurn();
        },
      }),
      (e: unknown) => e === reason,
    );
    assert.equal(yields, 10);
    assert.ok(sinkCalls >= 1);
    assert.equal(inFlight, 0, 'no write left running');

    // Already aborted: nothing is written.
    let calls = 0;
    const already = AbortSignal.abort(reason);
    await assert.rejects(
      write(b, async () => {
        calls++;
        throw new Error('unreachable');
      }, { signal: already }),
      (e: unknown) => e === reason,
    );
    assert.equal(calls, 0);
    b.dispose();
  });
});

test('keyed state files: a failing sink or an unserialisable value rejects the write', async () => {
  const b = populate(backend(), 0, 400);
  const failure = new Error('no space left on device');
  let calls = 0;
  await assert.rejects(
    write(
      b,
      async (name, payload) => {
        if (++calls === 2) throw failure;
        return { path: `chk-1/${name}`, size: payload.byteLength, checksum: '0'.repeat(64) };
      },
      { fileBytes: 4096 },
    ),
    (e: unknown) => e === failure,
  );

  class Unregistered {
    constructor(public a: number) {}
  }
  b.setCurrentKey('bad-key');
  b.getValueState(new ValueStateDescriptor<unknown>('opaque')).update(new Unregistered(1));
  await assert.rejects(
    write(b, async (name, payload) => ({ path: name, size: payload.byteLength, checksum: '' })),
    /state 'opaque' \(key "bad-key", key group \d+\).*Unregistered/,
  );
  b.dispose();
});


test('keyed state files: files of format 1 are still read', async () => {
  await withStorage(async ({ sink, read }) => {
    const keys = FORMAT_ONE_KEYS;
    const groupOf = (k: unknown): number => assignToKeyGroup(k, MAX_PARALLELISM);
    const frames: unknown[][] = [...formatOneStateFrames(groupOf), [3, [[0, 'a', groupOf('a'), 1000], [1, 7, groupOf(7), 2000.5]]]];
    const handle = await sink('op-old-0-0.kstate', formatOneFile(frames));
    const restored = await readKeyedState([handle], read, FULL);
    assert.deepEqual(restored.states, [
      { name: 'v', kind: 'value' },
      { name: 'l', kind: 'list' },
      { name: 'm', kind: 'map' },
    ]);
    assert.deepEqual(
      restored.timers.map((t) => [t.domain, t.key, t.timestamp]),
      [
        ['event', 'a', 1000],
        ['processing', 7, 2000.5],
      ],
    );
    const b = backend();
    b.restore(restored.data);
    const value = b.getValueState(new ValueStateDescriptor<{ n: number; when: Date }>('v'));
    const list = b.getListState(new ListStateDescriptor<unknown>('l'));
    const map = b.getMapState(new MapStateDescriptor<unknown, unknown>('m'));
    keys.forEach((k, i) => {
      b.setCurrentKey(k);
      assert.deepEqual(value.value(), { n: i, when: new Date(i) });
      assert.deepEqual(list.get(), [i, `e${i}`]);
    });
    b.setCurrentKey('a');
    assert.deepEqual(map.get(['p', 2]), 3n);
    assert.deepEqual([...map.keys()], ['u', ['p', 2]]);

    // Damage inside a format 1 file is still reported with the frame.
    const bad = formatOneFile([[1, 'v', 'value'], [2, 'v', 3, 'not rows']]);
    await assert.rejects(readKeyedState([handle], async () => bad, FULL), /frame 1 at offset \d+ is a malformed entries frame/);
    b.dispose();
  });
});

test('keyed state files: a damaged entries frame is reported with the file and frame, a shorter or longer one too', async () => {
  await withStorage(async ({ sink, read }) => {
    const b = backend();
    const value = b.getValueState(new ValueStateDescriptor<{ s: string }>('v'));
    b.setCurrentKey('only');
    value.update({ s: 'x'.repeat(40) });
    const { files } = await write(b, sink);
    const payload = await read(files[0]!);
    const offsets = frameOffsets(payload);
    const entries = offsets[1]!; // frame 0 declares the state, frame 1 holds the entry
    const attempt = (bytes: Uint8Array): Promise<unknown> => readKeyedState(files, async () => bytes, FULL);
    const isCorrupt = (problem: RegExp) => (e: unknown) =>
      e instanceof CorruptCheckpointError && e.message.includes(files[0]!.path) && problem.test(e.message);

    // [u32 length][u8 type][u32 state][u32 key group][u32 count], then the key 'only' in 6 bytes.
    const badTag = payload.slice();
    badTag[entries + 4 + 1 + 12 + 6] = 0x7f; // the first byte of the value: not a tag
    await assert.rejects(attempt(badTag), isCorrupt(/frame 1 at offset \d+ cannot be decoded: unknown value tag 0x7f/));

    const moreEntries = payload.slice();
    new DataView(moreEntries.buffer).setUint32(entries + 4 + 1 + 8, 2, true); // claims two entries
    await assert.rejects(attempt(moreEntries), isCorrupt(/frame 1 at offset \d+ cannot be decoded/));

    const fewerEntries = payload.slice();
    new DataView(fewerEntries.buffer).setUint32(entries + 4 + 1 + 8, 0, true);
    await assert.rejects(attempt(fewerEntries), isCorrupt(/frame 1 at offset \d+ holds \d+ bytes more than its content/));

    const undeclared = payload.slice();
    new DataView(undeclared.buffer).setUint32(entries + 4 + 1, 5, true);
    await assert.rejects(attempt(undeclared), isCorrupt(/entries of state 5, which the file does not declare/));
    b.dispose();
  });
});

test('keyed state files: buffers are reused once the sink is done; every file is whole and carries its digest', async () => {
  await withStorage(async ({ sink, read }) => {
    const b = populate(backend(), 0, 1500);
    const buffers = new Set<ArrayBufferLike>();
    let files = 0;
    const result = await write(b, async (name, payload) => {
      files++;
      buffers.add(payload.buffer);
      return sink(name, payload);
    }, { fileBytes: 16 * 1024 });
    assert.ok(files >= 8, `${files} files`);
    assert.ok(buffers.size <= 3, `${buffers.size} buffers for ${files} files`);
    const fresh = backend();
    fresh.restore((await readKeyedState(result.files, read, FULL)).data);
    assert.deepEqual(dump(fresh), dump(b));
    b.dispose();
    fresh.dispose();
  });
});

test('keyed state files: a snapshot that offers only entries() is written the same way', async () => {
  await withStorage(async ({ sink, read }) => {
    const b = populate(backend(), 0, 600);
    const heap = b.snapshot();
    const plain: KeyedStateWriteOptions['snapshot'] = {
      states: heap.states,
      entries: (name, keyGroup) => heap.entries(name, keyGroup),
      release: () => heap.release(),
    };
    let result: KeyedStateWriteResult;
    try {
      result = await writeKeyedState({ snapshot: plain, keyGroupRange: FULL, filePrefix: 'op-plain-0', sink, fileBytes: 32 * 1024 });
    } finally {
      heap.release();
    }
    assert.ok(result.files.length > 1);
    const fresh = backend();
    fresh.restore((await readKeyedState(result.files, read, FULL)).data);
    assert.deepEqual(dump(fresh), dump(b));
    b.dispose();
    fresh.dispose();
  });
});
