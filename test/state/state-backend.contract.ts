/**
 * Behaviour every StateBackend must have: the keyed and operator state backends it makes pass
 * their contracts, and a keyed snapshot written through a sink of opaque handles reads back,
 * split by key-group range, whatever the storage behind the sink. A backend's test (see
 * state-backend.test.ts, which runs this for every registered backend) calls
 * runStateBackendContract with a factory of backends.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/api/state.ts';
import { assignToKeyGroup, canonicalKey } from '../../src/core/key-group.ts';
import type { KeyGroupRange } from '../../src/core/key-group.ts';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.ts';
import type { StateBackend, StateBackendScope, StateFileSink, StateFileSource } from '../../src/state/state-backend.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import { timerSnapshotSetOf, type TimerSnapshot } from '../../src/state/timer-snapshot.ts';
import { runKeyedStateBackendContract } from './keyed-state-backend.contract.ts';
import { runOperatorStateBackendContract } from './operator-state-backend.contract.ts';

const MAX_PARALLELISM = 32;
const FULL: KeyGroupRange = { start: 0, end: MAX_PARALLELISM - 1 };
const LOWER: KeyGroupRange = { start: 0, end: 15 };
const UPPER: KeyGroupRange = { start: 16, end: 31 };

const scope: StateBackendScope = { jobId: 'job', operatorId: 'op-1', operatorName: 'contract operator', subtaskIndex: 0, parallelism: 1 };

const countD = new ValueStateDescriptor<number>('count', 0);
const seenD = new ListStateDescriptor<string>('seen');
const tagsD = new MapStateDescriptor<string, number>('tags');

/** A storage that keeps files in memory: the backend sees only the names it gives and the handles it gets. */
class MemoryFiles {
  readonly files = new Map<string, Uint8Array>();
  readonly names: string[] = [];
  readonly sink: StateFileSink = async (name, payload) => {
    this.names.push(name);
    const path = `chk-1/${name}`;
    this.files.set(path, Uint8Array.from(payload)); // the payload's memory may be reused
    return { path, size: payload.byteLength, checksum: 'unchecked' };
  };
  readonly read: StateFileSource = async (h: StateFileHandle) => {
    const bytes = this.files.get(h.path);
    if (bytes === undefined) throw new Error(`no file ${h.path}`);
    return bytes;
  };
}

function populate(b: KeyedStateBackend, keys: number): void {
  const count = b.getValueState(countD);
  const seen = b.getListState(seenD);
  const tags = b.getMapState(tagsD);
  for (let k = 0; k < keys; k++) {
    b.setCurrentKey(`key-${k}`);
    count.update(k);
    seen.add(`a${k}`);
    seen.add(`b${k}`);
    tags.put(`t${k % 3}`, k);
  }
}

function expected(keys: number, range: KeyGroupRange): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (let k = 0; k < keys; k++) {
    const key = `key-${k}`;
    const g = assignToKeyGroup(key, MAX_PARALLELISM);
    if (g < range.start || g > range.end) continue;
    out.set(key, { count: k, seen: [`a${k}`, `b${k}`], tags: [[`t${k % 3}`, k]] });
  }
  return out;
}

function dump(b: KeyedStateBackend): Map<string, unknown> {
  const count = b.getValueState(countD);
  const seen = b.getListState(seenD);
  const tags = b.getMapState(tagsD);
  const out = new Map<string, unknown>();
  for (const key of [...b.keys('count')].sort()) {
    b.setCurrentKey(key);
    out.set(key as string, { count: count.value(), seen: [...seen.get()], tags: [...tags.entries()] });
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const sorted = (m: Map<string, unknown>): Map<string, unknown> => new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

export function runStateBackendContract(name: string, create: () => StateBackend, o: { modelRuns?: number } = {}): void {
  runKeyedStateBackendContract(name, (opts) => create().createKeyedStateBackend({ ...scope, ...opts }), o);
  runOperatorStateBackendContract(name, () => create().createOperatorStateBackend(scope));

  describe(`${name}: state backend contract`, () => {
    test('a keyed snapshot written through a sink reads back whole and split by key-group range', async () => {
      const backend = create();
      const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX_PARALLELISM, keyGroupRange: FULL });
      populate(live, 300);
      const snapshot = live.snapshot();
      // Changes after the synchronous part are not in the snapshot.
      live.setCurrentKey('key-1');
      live.getValueState(countD).update(-1);
      live.setCurrentKey('late');
      live.getValueState(countD).update(7);
      const files = new MemoryFiles();
      let result: Awaited<ReturnType<StateBackend['writeKeyedSnapshot']>>;
      try {
        result = await backend.writeKeyedSnapshot({ snapshot, keyGroupRange: FULL, filePrefix: 'op-1-0', sink: files.sink });
      } finally {
        snapshot.release();
      }
      assert.ok(result.files.length > 0);
      assert.ok(result.bytes > 0);
      assert.equal(result.entries, 900);
      for (const n of files.names) assert.ok(n.startsWith('op-1-0') && !n.includes('/'), `a simple name under the prefix: ${n}`);

      for (const range of [FULL, LOWER, UPPER]) {
        const restored = await backend.readKeyedSnapshot(result.files, files.read, range);
        assert.deepEqual(
          restored.states.map((s) => [s.name, s.kind]).sort(),
          [
            ['count', 'value'],
            ['seen', 'list'],
            ['tags', 'map'],
          ],
        );
        for (const d of restored.data) assert.ok(d.keyGroup >= range.start && d.keyGroup <= range.end);
        const target = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX_PARALLELISM, keyGroupRange: range });
        target.restore(restored.data);
        assert.deepEqual(dump(target), sorted(expected(300, range)), `range ${range.start}..${range.end}`);
      }
    });

    test('timers travel with the keyed snapshot and are filtered by range', async () => {
      const backend = create();
      const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX_PARALLELISM, keyGroupRange: FULL });
      populate(live, 10);
      const timers: TimerSnapshot<unknown>[] = [];
      for (let k = 0; k < 50; k++) {
        const key = `key-${k}`;
        timers.push({ domain: k % 2 === 0 ? 'event' : 'processing', key, keyGroup: assignToKeyGroup(key, MAX_PARALLELISM), timestamp: 1000 + k });
      }
      const snapshot = live.snapshot();
      const files = new MemoryFiles();
      const result = await backend.writeKeyedSnapshot({ snapshot, keyGroupRange: FULL, timers: timerSnapshotSetOf(timers), filePrefix: 'op-1-0', sink: files.sink });
      snapshot.release();
      const lower = await backend.readKeyedSnapshot(result.files, files.read, LOWER);
      const want = timers.filter((t) => t.keyGroup <= LOWER.end).map((t) => ({ ...t, canonical: canonicalKey(t.key) }));
      const byTime = (a: { timestamp: number }, b: { timestamp: number }): number => a.timestamp - b.timestamp;
      assert.deepEqual([...lower.timers].sort(byTime), want.sort(byTime));
    });

    test('an aborted write rejects', async () => {
      const backend = create();
      const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX_PARALLELISM, keyGroupRange: FULL });
      populate(live, 50);
      const snapshot = live.snapshot();
      const abort = new AbortController();
      abort.abort(new Error('checkpoint cancelled'));
      await assert.rejects(
        backend.writeKeyedSnapshot({ snapshot, keyGroupRange: FULL, filePrefix: 'op-1-0', sink: new MemoryFiles().sink, signal: abort.signal }),
        /cancelled/,
      );
      snapshot.release();
    });

    test('a truncated file is an error naming the file', async () => {
      const backend = create();
      const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX_PARALLELISM, keyGroupRange: FULL });
      populate(live, 100);
      const snapshot = live.snapshot();
      const files = new MemoryFiles();
      const result = await backend.writeKeyedSnapshot({ snapshot, keyGroupRange: FULL, filePrefix: 'op-1-0', sink: files.sink });
      snapshot.release();
      const victim = result.files[0]!;
      files.files.set(victim.path, files.files.get(victim.path)!.subarray(0, Math.floor(victim.size / 2)));
      await assert.rejects(backend.readKeyedSnapshot(result.files, files.read, FULL), (e: unknown) => {
        assert.ok(e instanceof Error && e.message.includes(victim.path), String(e));
        return true;
      });
    });
  });
}
