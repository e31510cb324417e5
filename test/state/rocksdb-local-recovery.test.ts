/**
 * Task-local recovery of full (canonical) RocksDB checkpoints at the state backend's seam
 * (rocksdb-local-recovery.ts): a restart of the same key groups restores from the native local
 * copy without reading any state file from the checkpoint storage, timers included; a missing,
 * corrupt or torn local copy falls back to the storage with the same result; only the newest
 * completed checkpoint's copy (and newer pending ones) is kept, aborted checkpoints leave none,
 * a terminal job leaves none; a rescaled restore reads the storage.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Configuration } from '../../src/api/configuration.ts';
import type { KeyGroupRange } from '../../src/core/key-group.ts';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.ts';
import { fullLocalRecoveryStats } from '../../src/state/rocksdb/rocksdb-local-recovery.ts';
import type { StateBackend, StateBackendScope, StateFileSource } from '../../src/state/state-backend.ts';
import { dump, fill, MemoryFiles, noReads, timersOf, timerStrings } from '../support/state-files.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import { resolveStateBackend } from '../../src/state/state-backend-registry.ts';
import { timerSnapshotSetOf, type TimerSnapshot } from '../../src/state/timer-snapshot.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-local-'));
after(() => rmSync(root, { recursive: true, force: true }));

const MAX = 32;
const FULL: KeyGroupRange = { start: 0, end: MAX - 1 };

function rocksdb(localdir: string, localRecovery = true): StateBackend {
  return resolveStateBackend(
    new Configuration({
      'state.backend.type': 'rocksdb',
      'state.backend.local-recovery': localRecovery,
      'state.backend.rocksdb.localdir': join(root, localdir),
    }),
  );
}

async function checkpoint(backend: StateBackend, live: KeyedStateBackend, files: MemoryFiles, id: number, timers: TimerSnapshot<unknown>[] = []) {
  const snapshot = live.snapshot();
  try {
    return await backend.writeKeyedSnapshot({
      snapshot,
      keyGroupRange: live.keyGroupRange,
      filePrefix: `op-1-0`,
      sink: files.sink(id),
      snapshotType: 'full',
      checkpointId: id,
      timers: timerSnapshotSetOf(timers),
    });
  } finally {
    snapshot.release();
  }
}

function scopeOf(job: string): StateBackendScope {
  return { jobId: job, operatorId: 'op-1', operatorName: 'local recovery test', subtaskIndex: 0, parallelism: 1 };
}

interface Restored {
  readonly state: Map<string, unknown>;
  readonly timers: readonly unknown[];
  readonly from: unknown;
}

async function restoreWith(backend: StateBackend, job: string, files: readonly StateFileHandle[], read: StateFileSource, range = FULL): Promise<Restored> {
  const fresh = backend.createKeyedStateBackend({ ...scopeOf(job), maxParallelism: MAX, keyGroupRange: range });
  try {
    const restored = await backend.readKeyedSnapshot(files, read, range);
    await restored.restoreInto!(fresh);
    const timers = restored.timers.map((t) => `${t.domain}:${String(t.key)}:${t.keyGroup}:${t.timestamp}`).sort();
    return { state: dump(fresh), timers, from: (fresh as unknown as { lastRestore: unknown }).lastRestore };
  } finally {
    fresh.dispose();
  }
}


test('rocksdb full checkpoints, local recovery: a restart restores from the task-local copy, timers included, without reading any state file from the storage; only the newest completed copy is kept', async () => {
  const backend = rocksdb('basic');
  const files = new MemoryFiles();
  const live = backend.createKeyedStateBackend({ ...scopeOf('a'), maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 600, 1);
  const c1 = await checkpoint(backend, live, files, 1);
  assert.ok(c1.files.length > 0 && c1.files.every((f) => f.path.startsWith('chk-1/') && !f.path.endsWith('.rdb')), 'the storage holds canonical files');
  live.notifyCheckpointComplete!(1);
  fill(live, 0, 200, 5);
  const timers = timersOf(live, 20, 'event', 1_000);
  const c2 = await checkpoint(backend, live, files, 2, timers);
  const expected = dump(live);
  // Writes after the barrier are not in it.
  fill(live, 0, 50, 1_000);
  const localDir = join(root, 'basic', 'job-a', 'local', 'op-op-1-0');
  assert.deepEqual(readdirSync(localDir).sort(), ['chk-1', 'chk-2'], 'the completed copy stays while a newer one is pending');
  live.notifyCheckpointComplete!(2);
  assert.deepEqual(readdirSync(localDir), ['chk-2'], 'only the newest completed checkpoint is kept locally');
  live.dispose();

  const before = { ...fullLocalRecoveryStats };
  const local = await restoreWith(backend, 'a', c2.files, noReads);
  assert.equal(local.from, 'local');
  assert.deepEqual(local.state, expected);
  assert.deepEqual(local.timers, timerStrings(timers));
  assert.equal(fullLocalRecoveryStats.local, before.local + 1);

  // The same files read from the storage give the same state.
  const remote = await restoreWith(rocksdb('basic-remote', false), 'a', c2.files, files.read);
  assert.notEqual(remote.from, 'local');
  assert.deepEqual(remote.state, expected);
  assert.deepEqual(remote.timers, local.timers);

  // A second restart restores from the same copy again (the restored instance's files are links).
  assert.deepEqual((await restoreWith(backend, 'a', c2.files, noReads)).state, expected);

  // A terminal job deletes its local copies with its working directory.
  await backend.releaseJob!('a');
  assert.equal(existsSync(join(root, 'basic', 'job-a')), false);
});

test('rocksdb full checkpoints, local recovery: a missing, corrupt or torn local copy falls back to the storage with exact results', async () => {
  const backend = rocksdb('fallback');
  const files = new MemoryFiles();
  const live = backend.createKeyedStateBackend({ ...scopeOf('b'), maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 500, 2);
  const timers = timersOf(live, 10, 'event', 1_000);
  const c1 = await checkpoint(backend, live, files, 1, timers);
  live.notifyCheckpointComplete!(1);
  const expected = dump(live);
  live.dispose();
  const copy = join(root, 'fallback', 'job-b', 'local', 'op-op-1-0', 'chk-1');
  const names = readdirSync(copy);
  const sst = names.find((f) => f.endsWith('.sst'))!;
  const manifest = names.find((f) => f.endsWith('.manifest'))!;
  const timersFile = names.find((f) => f.startsWith('timers'))!;
  assert.ok(sst !== undefined && manifest !== undefined && timersFile !== undefined, `the copy has SST files, timers and a manifest: ${names.join(', ')}`);
  const saved = new Map(names.map((n) => [n, readFileSync(join(copy, n))]));
  const restoreAll = () => {
    for (const [n, bytes] of saved) {
      rmSync(join(copy, n), { force: true });
      writeFileSync(join(copy, n), bytes);
    }
  };
  const flip = (name: string) => {
    const bytes = Buffer.from(saved.get(name)!);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    rmSync(join(copy, name)); // a hard link: the working instance's file is not touched
    writeFileSync(join(copy, name), bytes);
  };
  const damages: [string, () => void][] = [
    ['a corrupt SST file', () => flip(sst)],
    ['a missing SST file', () => rmSync(join(copy, sst))],
    ['a corrupt timers file', () => flip(timersFile)],
    ['a corrupt manifest', () => flip(manifest)],
    ['a torn manifest', () => truncateSync(join(copy, manifest), 10)],
    ['no manifest (an incomplete copy)', () => rmSync(join(copy, manifest))],
    ['a corrupt RocksDB MANIFEST', () => flip(names.find((f) => f.startsWith('MANIFEST-'))!)],
  ];
  assert.equal((await restoreWith(backend, 'b', c1.files, noReads)).from, 'local');
  for (const [what, damage] of damages) {
    damage();
    await assert.rejects(restoreWith(backend, 'b', c1.files, noReads), /from the checkpoint storage/, `${what}: the local copy is not used`);
    const before = files.reads.length;
    const remote = await restoreWith(backend, 'b', c1.files, files.read);
    assert.ok(files.reads.length > before, `${what}: the storage is read`);
    assert.notEqual(remote.from, 'local');
    assert.deepEqual(remote.state, expected, what);
    assert.deepEqual(remote.timers, timerStrings(timers), what);
    restoreAll();
  }
  assert.equal((await restoreWith(backend, 'b', c1.files, noReads)).from, 'local', 'the repaired copy is used again');
  await backend.releaseJob!('b');
});

test('rocksdb full checkpoints, local recovery: aborted checkpoints leave no copy; a rescaled restore reads the storage', async () => {
  const backend = rocksdb('abort');
  const files = new MemoryFiles();
  const live = backend.createKeyedStateBackend({ ...scopeOf('c'), maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 500, 1);
  const c1 = await checkpoint(backend, live, files, 1);
  live.notifyCheckpointComplete!(1);
  const expected = dump(live);
  fill(live, 0, 100, 3);
  await checkpoint(backend, live, files, 2);
  live.notifyCheckpointAborted!(2);
  const localDir = join(root, 'abort', 'job-c', 'local', 'op-op-1-0');
  assert.deepEqual(readdirSync(localDir), ['chk-1'], 'the aborted checkpoint left no copy');
  // A completion after an abort (of a later checkpoint) prunes as usual.
  await checkpoint(backend, live, files, 3);
  live.notifyCheckpointComplete!(3);
  assert.deepEqual(readdirSync(localDir), ['chk-3']);
  live.dispose();

  // Checkpoint 1's copy is gone: its restore reads the storage.
  assert.deepEqual((await restoreWith(backend, 'c', c1.files, files.read)).state, expected);

  // Rescaled: each half reads the storage, and together they hold the state.
  const again = backend.createKeyedStateBackend({ ...scopeOf('c'), maxParallelism: MAX, keyGroupRange: FULL });
  fill(again, 0, 500, 1);
  const c4 = await checkpoint(backend, again, files, 4);
  again.notifyCheckpointComplete!(4);
  again.dispose();
  const merged = new Map<string, unknown>();
  for (const range of [
    { start: 0, end: 15 },
    { start: 16, end: 31 },
  ]) {
    await assert.rejects(restoreWith(backend, 'c', c4.files, noReads, range), /from the checkpoint storage/);
    const part = await restoreWith(backend, 'c', c4.files, files.read, range);
    assert.notEqual(part.from, 'local');
    for (const [k, v] of part.state) merged.set(k, v);
  }
  assert.deepEqual(new Map([...merged].sort()), expected);
  // The same range restores locally.
  assert.equal((await restoreWith(backend, 'c', c4.files, noReads)).from, 'local');
  await backend.releaseJob!('c');
});
