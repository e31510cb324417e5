/**
 * Task-local recovery on the heap backend (heap-local-recovery.ts): every file a checkpoint
 * writes is duplicated into the subtask's task-local copy; a restart of the same key groups reads
 * no state file from the storage; a corrupt or missing duplicate is read from the storage instead
 * (and only that one), a copy without its manifest is not used, and the results are exact; only
 * the newest completed copy is kept, aborted checkpoints leave none, a rescaled restore reads the
 * storage, and a terminal job leaves nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValueStateDescriptor } from '../../src/api/state.ts';
import { Configuration } from '../../src/api/configuration.ts';
import type { KeyGroupRange } from '../../src/core/key-group.ts';
import { HASH_MAP_STATE_BACKEND, HashMapStateBackend } from '../../src/state/heap/hash-map-state-backend.ts';
import { heapLocalRecoveryStats } from '../../src/state/heap/heap-local-recovery.ts';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.ts';
import type { StateBackend, StateBackendScope, StateFileSource } from '../../src/state/state-backend.ts';
import { dump, fill, MemoryFiles, noReads, timersOf, timerStrings } from '../support/state-files.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import { type TimerSnapshot, timerSnapshotSetOf } from '../../src/state/timer-snapshot.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-heap-local-'));
after(() => rmSync(root, { recursive: true, force: true }));

const MAX = 32;
const FULL: KeyGroupRange = { start: 0, end: MAX - 1 };
const scope: StateBackendScope = { jobId: 'h', operatorId: 'op-1', operatorName: 'heap local recovery test', subtaskIndex: 0, parallelism: 1 };

async function checkpoint(backend: StateBackend, live: KeyedStateBackend, files: MemoryFiles, id: number, timers: TimerSnapshot<unknown>[] = []) {
  const snapshot = live.snapshot();
  try {
    return await backend.writeKeyedSnapshot({ snapshot, keyGroupRange: live.keyGroupRange, filePrefix: 'op-1-0', sink: files.sink(id), checkpointId: id, timers: timerSnapshotSetOf(timers) });
  } finally {
    snapshot.release();
  }
}

async function restoreWith(backend: StateBackend, files: readonly StateFileHandle[], read: StateFileSource, range = FULL) {
  const fresh = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: range });
  try {
    const restored = await backend.readKeyedSnapshot(files, read, range);
    fresh.restore(restored.data);
    return { state: dump(fresh), timers: timerStrings(restored.timers) };
  } finally {
    fresh.dispose();
  }
}

test('heap local recovery: a restart reads every file from the task-local copy; only the newest completed copy is kept; aborted checkpoints leave none; a terminal job leaves none', async () => {
  const backend = new HashMapStateBackend({ localRecovery: true, localRoot: join(root, 'a') });
  const files = new MemoryFiles();
  const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 3_000, 1);
  await checkpoint(backend, live, files, 1);
  live.notifyCheckpointComplete!(1);
  fill(live, 0, 100, 7);
  const timers = timersOf(live, 15, 'processing', 500);
  const c2 = await checkpoint(backend, live, files, 2, timers);
  const expected = dump(live);
  fill(live, 0, 10, 1_000);
  const localDir = join(root, 'a', 'job-h', 'local', 'op-op-1-0');
  assert.deepEqual(readdirSync(localDir).sort(), ['chk-1', 'chk-2']);
  live.notifyCheckpointComplete!(2);
  assert.deepEqual(readdirSync(localDir), ['chk-2'], 'only the newest completed checkpoint is kept locally');
  await checkpoint(backend, live, files, 3);
  live.notifyCheckpointAborted!(3);
  assert.deepEqual(readdirSync(localDir), ['chk-2'], 'the aborted checkpoint left no copy');
  live.dispose();

  const before = { ...heapLocalRecoveryStats };
  const local = await restoreWith(backend, c2.files, noReads);
  assert.deepEqual(local.state, expected);
  assert.deepEqual(local.timers, timerStrings(timers));
  assert.equal(heapLocalRecoveryStats.local, before.local + 1);
  // Without local recovery the storage's files give the same.
  assert.deepEqual(await restoreWith(new HashMapStateBackend(), c2.files, files.read), local);

  await backend.releaseJob('h');
  assert.equal(existsSync(join(root, 'a', 'job-h')), false);
});

test('heap local recovery: a corrupt or missing duplicate is read from the storage, alone; no manifest or another range: every file', async () => {
  const backend = new HashMapStateBackend({ localRecovery: true, localRoot: join(root, 'b') });
  const files = new MemoryFiles();
  const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 4_000, 3);
  // About 12 MB of values: the checkpoint writes more than one file (8 MiB each), so one can be damaged alone.
  const blob = live.getValueState(new ValueStateDescriptor<string>('blob'));
  for (let k = 0; k < 6_000; k++) {
    live.setCurrentKey(`key-${k}`);
    blob.update(`${k}:${'x'.repeat(2_000)}`);
  }
  const timers = timersOf(live, 5, 'processing', 500);
  const c1 = await checkpoint(backend, live, files, 1, timers);
  assert.ok(c1.files.length > 1, `${c1.files.length} files`);
  live.notifyCheckpointComplete!(1);
  const expected = dump(live);
  live.dispose();
  const copy = join(root, 'b', 'job-h', 'local', 'op-op-1-0', 'chk-1');
  const names = readdirSync(copy);
  const manifest = names.find((n) => n.endsWith('.manifest'))!;
  const data = names.filter((n) => n !== manifest).sort();
  assert.equal(data.length, c1.files.length, 'one duplicate per file');

  const victim = data[0]!;
  const saved = readFileSync(join(copy, victim));
  const bad = Buffer.from(saved);
  bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff;
  writeFileSync(join(copy, victim), bad);
  files.reads.length = 0;
  let got = await restoreWith(backend, c1.files, files.read);
  assert.deepEqual(got.state, expected);
  assert.deepEqual(got.timers, timerStrings(timers));
  assert.equal(files.reads.length, 1, 'only the corrupt file is read from the storage');

  rmSync(join(copy, victim));
  files.reads.length = 0;
  got = await restoreWith(backend, c1.files, files.read);
  assert.deepEqual(got.state, expected);
  assert.equal(files.reads.length, 1, 'only the missing file is read from the storage');
  writeFileSync(join(copy, victim), saved);
  assert.deepEqual((await restoreWith(backend, c1.files, noReads)).state, expected);

  // A torn manifest: the copy is not used.
  const whole = readFileSync(join(copy, manifest));
  writeFileSync(join(copy, manifest), whole.subarray(0, whole.length - 5));
  files.reads.length = 0;
  assert.deepEqual((await restoreWith(backend, c1.files, files.read)).state, expected);
  assert.equal(files.reads.length, c1.files.length);
  writeFileSync(join(copy, manifest), whole);

  // Rescaled: each half reads the storage.
  const merged = new Map<string, unknown>();
  for (const range of [
    { start: 0, end: 15 },
    { start: 16, end: 31 },
  ]) {
    await assert.rejects(restoreWith(backend, c1.files, noReads, range), /from the checkpoint storage/);
    for (const [k, v] of (await restoreWith(backend, c1.files, files.read, range)).state) merged.set(k, v);
  }
  assert.deepEqual(new Map([...merged].sort()), expected);
  await backend.releaseJob('h');
});

test('heap local recovery: taskmanager.state.local.root-dirs (a path or a file:// URI) is where the copies go; a bad value is refused naming the key', async () => {
  for (const [name, given] of [
    ['path', join(root, 'configured-path')],
    ['uri', pathToFileURL(join(root, 'configured-uri')).href],
  ] as const) {
    const config = new Configuration().setString('state.backend.local-recovery', 'true').setString('taskmanager.state.local.root-dirs', given);
    const backend = HASH_MAP_STATE_BACKEND.create(config);
    const files = new MemoryFiles();
    const live = backend.createKeyedStateBackend({ ...scope, jobId: `cfg-${name}`, maxParallelism: MAX, keyGroupRange: FULL });
    fill(live, 0, 50, 1);
    const c1 = await checkpoint(backend, live, files, 1);
    live.notifyCheckpointComplete!(1);
    const expected = dump(live);
    live.dispose();
    assert.deepEqual(readdirSync(join(root, `configured-${name}`, `job-cfg-${name}`, 'local', 'op-op-1-0')), ['chk-1']);
    assert.deepEqual((await restoreWith(backend, c1.files, noReads)).state, expected);
    await backend.releaseJob!(`cfg-${name}`);
  }
  assert.throws(() => new Configuration().setString('taskmanager.state.local.root-dirs', ''), /taskmanager\.state\.local\.root-dirs/);
});
