/**
 * The RocksDB backend's change log at the state backend's seam (rocksdb-changelog.ts): between
 * materializations a checkpoint uploads only the log of what was written since the last one,
 * lists the materialization's SST files and the segments of completed checkpoints again, never
 * reuses a segment of an aborted one, and restores exactly the state at its barrier, also with
 * rescaling and from the task-local copy of its base; a segment cut short is refused by name; the
 * heap backend refuses the option.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Configuration, ConfigError } from '../../src/api/configuration.ts';
import type { KeyGroupRange } from '../../src/core/key-group.ts';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.ts';
import { EmbeddedRocksDBStateBackend } from '../../src/state/rocksdb/embedded-rocksdb-state-backend.ts';
import type { StateBackend, StateBackendScope, StateFileSource } from '../../src/state/state-backend.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import { resolveStateBackend } from '../../src/state/state-backend-registry.ts';
import { checkpointInto, countD, dump, fill, MemoryFiles, noSstReads, restoreFresh, tagsD } from '../support/state-files.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-changelog-'));
after(() => rmSync(root, { recursive: true, force: true }));

const MAX = 32;
const FULL: KeyGroupRange = { start: 0, end: MAX - 1 };
const scope: StateBackendScope = { jobId: 'job', operatorId: 'op-1', operatorName: 'changelog test', subtaskIndex: 0, parallelism: 1 };

/** A RocksDB backend with a change log, materializing every `intervalMs` of the clock `clock.now`. */
function changelogBackend(dir: string, clock: { now: number }, intervalMs = 60_000, localRecovery = false): StateBackend {
  return new EmbeddedRocksDBStateBackend({ localDir: join(root, dir), changelog: true, materializeIntervalMs: intervalMs, now: () => clock.now, localRecovery });
}

/**
 * A RocksDB backend with a change log (materializing every `intervalMs` of `clock.now`) and a
 * keyed backend of it holding keys 0 .. `keys - 1`, whose checkpoint 1 (a materialization) completed.
 */
async function materialized(dir: string, clock: { now: number }, keys: number, intervalMs = 60_000, localRecovery = false) {
  const backend = changelogBackend(dir, clock, intervalMs, localRecovery);
  const files = new MemoryFiles({ shared: true });
  const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, keys, 1);
  const c1 = await checkpointInto(backend, live, files, 1);
  live.notifyCheckpointComplete!(1);
  return { backend, files, live, c1 };
}

const restored = (backend: StateBackend, handles: readonly StateFileHandle[], read: StateFileSource, range: KeyGroupRange) =>
  restoreFresh(backend, { ...scope, maxParallelism: MAX, keyGroupRange: range }, handles, read);

/** Clears some keys' counts (RocksDB deletes) and tags (range deletions). */
function clearSome(b: KeyedStateBackend, from: number, to: number): void {
  const count = b.getValueState(countD);
  const tags = b.getMapState(tagsD);
  for (let k = from; k < to; k++) {
    b.setCurrentKey(`key-${k}`);
    if (k % 2 === 0) count.clear();
    else tags.clear();
  }
}

const paths = (files: readonly { path: string }[], suffix: string): string[] => files.filter((f) => f.path.endsWith(suffix)).map((f) => f.path);

test('rocksdb change log: checkpoints between materializations upload only the log, reuse only completed segments, and each restores exactly, also rescaled', async () => {
  const { backend, files, live, c1 } = await materialized('main', { now: 0 }, 5_000);
  // The first checkpoint materializes: SST files, no log.
  const ssts = paths(c1.files, '.sst');
  assert.ok(ssts.length > 0, 'the first checkpoint uploads SST files');
  assert.deepEqual(paths(c1.files, '.clog'), []);

  // Checkpoint 2: a small change. No SST file is uploaded; the base's are listed again.
  fill(live, 0, 100, 10);
  clearSome(live, 100, 120);
  const c2 = await checkpointInto(backend, live, files, 2);
  const expected2 = dump(live);
  assert.deepEqual(paths(c2.files, '.sst').sort(), [...ssts].sort(), 'the base SST files are listed again');
  assert.ok(!files.written.some((p) => p.endsWith('.sst')), 'no SST file is uploaded between materializations');
  const log2 = paths(c2.files, '.clog');
  assert.equal(log2.length, 1);
  assert.ok(log2[0]!.startsWith('shared/'), 'segments are shared files');
  const sstBytes = ssts.reduce((n, p) => n + files.files.get(p)!.byteLength, 0);
  const logBytes = files.files.get(log2[0]!)!.byteLength;
  assert.ok(logBytes < sstBytes / 10, `checkpoint 2 uploaded a log of ${logBytes} bytes, against ${sstBytes} of SST files`);
  live.notifyCheckpointComplete!(2);

  // Checkpoint 3 is aborted: its segment is never reused. Checkpoint 4 lists 2's segment again
  // and uploads the writes of 3 and 4 itself.
  fill(live, 50, 150, 100);
  const c3 = await checkpointInto(backend, live, files, 3);
  const log3 = paths(c3.files, '.clog').filter((p) => !log2.includes(p));
  assert.equal(log3.length, 1);
  live.notifyCheckpointAborted!(3);
  fill(live, 0, 10, 1000);
  const c4 = await checkpointInto(backend, live, files, 4);
  const expected4 = dump(live);
  const log4 = paths(c4.files, '.clog');
  assert.ok(log4.includes(log2[0]!), 'the segment of completed checkpoint 2 is listed again');
  assert.ok(!log4.includes(log3[0]!), 'the segment of aborted checkpoint 3 is not reused');
  assert.equal(log4.length, 3, 'segments of checkpoints 2, 3 (uploaded again) and 4');
  assert.ok(!files.written.includes(log2[0]!) && files.written.filter((p) => p.endsWith('.clog')).length === 2);
  live.notifyCheckpointComplete!(4);
  // Writes after the barrier are not in it.
  fill(live, 0, 50, 5);

  for (const [c, expected] of [
    [c2, expected2],
    [c4, expected4],
  ] as const) {
    assert.deepEqual((await restored(backend, c.files, files.read, FULL)).state, expected);
    // Rescaled: two backends of half the range each replay only their key groups.
    const merged = new Map<string, unknown>();
    for (const range of [
      { start: 0, end: 12 },
      { start: 13, end: 31 },
    ]) {
      for (const [k, v] of (await restored(backend, c.files, files.read, range)).state) merged.set(k, v);
    }
    assert.deepEqual(new Map([...merged].sort()), expected);
  }

  // A segment cut short is refused, naming the file.
  const truncated: StateFileSource = async (h) => {
    const bytes = await files.read(h);
    return h.path === log2[0] ? bytes.subarray(0, bytes.byteLength - 3) : bytes;
  };
  await assert.rejects(restored(backend, c4.files, truncated, FULL), (e: Error) => e.message.includes(log2[0]!) && /corrupt RocksDB change log segment/.test(e.message));
  live.dispose();
});

test('rocksdb change log: a checkpoint materializes once the interval has passed since the last materialization; then the log restarts and local segments it covers are deleted', async () => {
  const clock = { now: 0 };
  const { backend, files, live } = await materialized('interval', clock, 5_000, 1000);
  const logDir = `${(live as unknown as { path: string }).path}-log`;
  for (const id of [2, 3]) {
    clock.now += 400;
    fill(live, 0, 500, id);
    const c = await checkpointInto(backend, live, files, id);
    assert.ok(!files.written.some((p) => p.endsWith('.sst')), `checkpoint ${id} uploads no SST file`);
    assert.equal(paths(c.files, '.clog').length, id - 1);
    live.notifyCheckpointComplete!(id);
  }
  assert.equal(readdirSync(logDir).length, 2, 'the segments since the materialization stay on local disk');
  clock.now += 400;
  fill(live, 0, 500, 4);
  const c4 = await checkpointInto(backend, live, files, 4);
  assert.ok(files.written.some((p) => p.endsWith('.sst')), 'checkpoint 4, 1.2 s after the materialization, materializes');
  assert.deepEqual(paths(c4.files, '.clog'), []);
  live.notifyCheckpointComplete!(4);
  assert.deepEqual(readdirSync(logDir), [], 'the completed materialization covers every segment');
  const expected = dump(live);
  fill(live, 0, 10, 5);
  const c5 = await checkpointInto(backend, live, files, 5);
  assert.equal(paths(c5.files, '.clog').length, 1, 'the next checkpoint builds on the new materialization');
  assert.deepEqual((await restored(backend, c4.files, files.read, FULL)).state, expected);
  live.dispose();
});

test('rocksdb change log: a materialization that completes while an older log checkpoint still uploads (concurrent checkpoints) leaves it the segments it reads', async () => {
  const clock = { now: 0 };
  const { backend, files, live } = await materialized('concurrent', clock, 2_000, 1000);
  // Checkpoint 2 is aborted: checkpoint 3 uploads its segment and its own.
  fill(live, 0, 100, 2);
  await checkpointInto(backend, live, files, 2);
  live.notifyCheckpointAborted!(2);
  fill(live, 100, 200, 3);
  const expected3 = dump(live);
  // Checkpoint 3's uploads wait at a gate: its first segment read, its second not yet.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const sink3 = files.sink(3);
  let uploads = 0;
  const snapshot3 = live.snapshot();
  const written3 = backend.writeKeyedSnapshot({
    snapshot: snapshot3,
    keyGroupRange: FULL,
    filePrefix: 'op-1-0',
    sink: async (name, payload, o) => {
      if (name.endsWith('.clog') && uploads++ === 0) await gate;
      return sink3(name, payload, o);
    },
    snapshotType: 'incremental',
    checkpointId: 3,
  });
  // Meanwhile the interval passes, checkpoint 4 materializes and completes first.
  clock.now += 1000;
  fill(live, 0, 10, 4);
  const c4 = await checkpointInto(backend, live, files, 4);
  assert.ok(paths(c4.files, '.sst').length > 0 && paths(c4.files, '.clog').length === 0, 'checkpoint 4 materialized');
  live.notifyCheckpointComplete!(4);
  open();
  const c3 = await written3;
  snapshot3.release();
  assert.equal(paths(c3.files, '.clog').length, 2, 'checkpoint 3 uploaded both segments');
  assert.deepEqual((await restored(backend, c3.files, files.read, FULL)).state, expected3);
  live.dispose();
});

test('rocksdb change log with local recovery: the base SST files come from the task-local copy, only the log and metadata from the storage', async () => {
  const { backend, files, live } = await materialized('local', { now: 0 }, 3_000, 60_000, true);
  fill(live, 0, 300, 7);
  const c2 = await checkpointInto(backend, live, files, 2);
  live.notifyCheckpointComplete!(2);
  const expected = dump(live);
  live.dispose();
  const localDir = join(root, 'local', 'job-job', 'local', 'op-op-1-0');
  assert.deepEqual(readdirSync(localDir), ['chk-1'], 'the materialization\'s copy stays while checkpoints build on it');
  const noSsts = noSstReads(files);
  const local = await restored(backend, c2.files, noSsts, FULL);
  assert.equal(local.from, 'local');
  assert.deepEqual(local.state, expected);
});

test('the heap backend refuses state.backend.changelog.enabled with the reason', () => {
  assert.throws(
    () => resolveStateBackend(new Configuration({ 'state.backend.type': 'hashmap', 'state.backend.changelog.enabled': true })),
    (e: unknown) => e instanceof ConfigError && /state\.backend\.changelog\.enabled.*RocksDB/.test((e as Error).message),
  );
  assert.throws(() => new Configuration({ 'state.backend.changelog.periodic-materialize.interval': 'soon' }), /periodic-materialize\.interval must be a duration/);
});
