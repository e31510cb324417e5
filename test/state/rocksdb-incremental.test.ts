/**
 * Incremental checkpoints of the RocksDB backend at the state backend's seam: what is uploaded
 * (only SST files new since the last completed checkpoint; never files of pending or aborted
 * ones), what the files restore to (exactly the state at the barrier, also with writes after it
 * and with rescaling), and the heap backend's clear refusal of RocksDB files.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Configuration } from '../../src/api/configuration.ts';
import type { KeyGroupRange } from '../../src/core/key-group.ts';
import type { StateBackend, StateBackendScope, StateFileSource } from '../../src/state/state-backend.ts';
import { resolveStateBackend } from '../../src/state/state-backend-registry.ts';
import { checkpointInto, dump, fill, MemoryFiles, noSstReads, restoreFresh } from '../support/state-files.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rocksdb-incr-'));
after(() => rmSync(root, { recursive: true, force: true }));

const MAX = 32;
const FULL: KeyGroupRange = { start: 0, end: MAX - 1 };
const scope: StateBackendScope = { jobId: 'job', operatorId: 'op-1', operatorName: 'incremental test', subtaskIndex: 0, parallelism: 1 };

function rocksdb(): StateBackend {
  return resolveStateBackend(
    new Configuration({
      'state.backend.type': 'rocksdb',
      'state.backend.incremental': true,
      'state.backend.rocksdb.localdir': root,
    }),
  );
}

test('rocksdb incremental: later checkpoints upload only new SST files, reuse only completed ones, and each restores exactly', async () => {
  const backend = rocksdb();
  const files = new MemoryFiles({ shared: true });
  const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 4_000, 1);
  const c1 = await checkpointInto(backend, live, files, 1);
  // One memtable flush per checkpoint and fewer than RocksDB's 4 level-0 files: no compaction
  // rewrites checkpoint 1's file before checkpoint 3 (compaction is what makes files new again).
  const ssts1 = c1.files.filter((f) => f.path.endsWith('.sst'));
  assert.ok(ssts1.length > 0 && ssts1.every((f) => f.path.startsWith('shared/')), 'SST files are shared files');
  assert.ok(c1.files.some((f) => f.path.endsWith('.rdb') && f.path.startsWith('chk-1/')), 'the metadata file is the checkpoint\'s own');
  const expected1 = dump(live);

  // Checkpoint 2 before 1 is confirmed: nothing of 1 may be reused.
  fill(live, 0, 200, 10);
  const c2 = await checkpointInto(backend, live, files, 2);
  for (const f of c2.files.filter((x) => x.path.endsWith('.sst'))) assert.ok(files.written.includes(f.path), `checkpoint 2 uploaded ${f.path} itself`);
  live.notifyCheckpointAborted!(2);
  live.notifyCheckpointComplete!(1);

  // Checkpoints 3 to 5, each confirmed before the next: files of completed checkpoints are listed
  // again (unless a compaction rewrote them meanwhile), only new ones are uploaded, and nothing of
  // the aborted checkpoint 2 is ever reused.
  const confirmed = new Set(ssts1.map((f) => f.path));
  let reusedCount = 0;
  let c3!: Awaited<ReturnType<typeof checkpointInto>>;
  for (const id of [3, 4, 5]) {
    fill(live, 0, 200, 100);
    c3 = await checkpointInto(backend, live, files, id);
    const ssts = c3.files.filter((f) => f.path.endsWith('.sst'));
    for (const f of ssts.filter((x) => !files.written.includes(x.path))) {
      assert.ok(confirmed.has(f.path), `${f.path}, listed again by checkpoint ${id}, was uploaded by a completed checkpoint`);
      reusedCount++;
    }
    const newBytes = files.written.filter((p) => p.endsWith('.sst')).reduce((n, p) => n + files.files.get(p)!.byteLength, 0);
    const allBytes = ssts.reduce((n, f) => n + files.files.get(f.path)!.byteLength, 0);
    assert.ok(newBytes <= allBytes, `checkpoint ${id} uploaded ${newBytes} of ${allBytes} SST bytes`);
    for (const f of ssts) confirmed.add(f.path);
    live.notifyCheckpointComplete!(id);
    if (id === 5) break;
  }
  assert.ok(reusedCount > 0, 'later checkpoints list files of completed ones again');
  const expected3 = dump(live);
  // Writes after the barrier are not in it.
  fill(live, 0, 50, 1000);

  for (const [result, expected] of [
    [c1, expected1],
    [c3, expected3],
  ] as const) {
    const restored = await backend.readKeyedSnapshot(result.files, files.read, FULL);
    assert.equal(typeof restored.restoreInto, 'function');
    const fresh = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
    await restored.restoreInto!(fresh);
    assert.deepEqual(dump(fresh), expected);
    fresh.dispose();
  }

  // Rescaled: two backends of half the range each hold exactly their keys.
  const halves: KeyGroupRange[] = [
    { start: 0, end: 15 },
    { start: 16, end: 31 },
  ];
  const merged = new Map<string, unknown>();
  for (const range of halves) {
    const restored = await backend.readKeyedSnapshot(c3.files, files.read, range);
    const part = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: range });
    await restored.restoreInto!(part);
    for (const [k, v] of dump(part)) merged.set(k, v);
    part.dispose();
  }
  assert.deepEqual(new Map([...merged].sort()), expected3);

  // The heap backend cannot read RocksDB files: a clear error naming the way out.
  const heap = resolveStateBackend(new Configuration());
  const onHeap = heap.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  const r = await rocksdb().readKeyedSnapshot(c3.files, files.read, FULL);
  await assert.rejects(r.restoreInto!(onHeap), /restores only on the RocksDB state backend.*savepoint/);
  live.dispose();
});

test('rocksdb local recovery: a restart restores from the task-local copy without reading SST files from the storage, and falls back to the storage when the copy is corrupt', async () => {
  const backend = resolveStateBackend(
    new Configuration({
      'state.backend.type': 'rocksdb',
      'state.backend.incremental': true,
      'state.backend.local-recovery': true,
      'state.backend.rocksdb.localdir': join(root, 'local-recovery'),
    }),
  );
  const files = new MemoryFiles({ shared: true });
  const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 2_000, 1);
  await checkpointInto(backend, live, files, 1);
  live.notifyCheckpointComplete!(1);
  fill(live, 0, 100, 5);
  const c2 = await checkpointInto(backend, live, files, 2);
  live.notifyCheckpointComplete!(2);
  const expected = dump(live);
  live.dispose();

  const localDir = join(root, 'local-recovery', 'job-job', 'local', 'op-op-1-0');
  assert.deepEqual(readdirSync(localDir), ['chk-2'], 'only the newest completed checkpoint is kept locally');
  const noSsts = noSstReads(files);
  const restoreWith = (read: StateFileSource) => restoreFresh(backend, { ...scope, maxParallelism: MAX, keyGroupRange: FULL }, c2.files, read);
  const local = await restoreWith(noSsts);
  assert.equal(local.from, 'local');
  assert.deepEqual(local.state, expected);

  // A corrupt local copy is not used: the storage's files are, and the result is the same.
  const sst = readdirSync(join(localDir, 'chk-2')).find((f) => f.endsWith('.sst'))!;
  const path = join(localDir, 'chk-2', sst);
  const bytes = readFileSync(path);
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  rmSync(path);
  writeFileSync(path, bytes);
  await assert.rejects(restoreWith(noSsts), /from the checkpoint storage/);
  const remote = await restoreWith(files.read);
  assert.equal(remote.from, 'remote');
  assert.deepEqual(remote.state, expected);
});

test('rocksdb incremental: after a restart from the job\'s own checkpoint the restored SST files are listed again, not uploaded; after any other restore everything is uploaded', async () => {
  const backend = rocksdb();
  const files = new MemoryFiles({ shared: true });
  const live = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
  fill(live, 0, 3_000, 1);
  const c1 = await checkpointInto(backend, live, files, 1);
  live.notifyCheckpointComplete!(1);
  live.dispose();
  const restoredSsts = c1.files.filter((f) => f.path.endsWith('.sst')).map((f) => f.path);

  for (const ownStorage of [true, false]) {
    const fresh = backend.createKeyedStateBackend({ ...scope, maxParallelism: MAX, keyGroupRange: FULL });
    await (await backend.readKeyedSnapshot(c1.files, files.read, FULL)).restoreInto!(fresh, { ownStorage });
    fill(fresh, 0, 10, 7);
    const c2 = await checkpointInto(backend, fresh, files, ownStorage ? 2 : 3);
    const listed = c2.files.filter((f) => f.path.endsWith('.sst')).map((f) => f.path);
    const uploaded = files.written.filter((p) => p.endsWith('.sst'));
    if (ownStorage) {
      for (const p of restoredSsts) assert.ok(listed.includes(p) && !uploaded.includes(p), `${p} is listed again without an upload`);
    } else {
      assert.deepEqual(uploaded.sort(), listed.sort(), 'every file is uploaded anew');
    }
    fresh.dispose();
  }
});
