import { test } from 'node:test';
import type { CheckpointId } from '../../src/core/ids.ts';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CheckpointMetadata, StateFileHandle } from '../../src/checkpoint/checkpoint-types.ts';
import {
  CorruptCheckpointError,
  FileSystemCheckpointStorage,
  createSavepointWriter,
  fileSystemCheckpointReader,
  findLatestCompleteCheckpoint,
  loadCheckpoint,
  withPayloadDigest,
} from '../../src/checkpoint/filesystem-checkpoint-storage.ts';
import { runCheckpointStorageContract } from './checkpoint-storage.contract.ts';

const JOB = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-checkpoint-test-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Two operators; the second has no uid and a subtask that reported nothing. */
function metadataFor(
  checkpointId: number,
  files: readonly StateFileHandle[],
  kind: 'checkpoint' | 'savepoint' = 'checkpoint',
): CheckpointMetadata {
  return {
    version: 1,
    jobId: JOB,
    checkpointId: checkpointId as CheckpointId,
    timestamp: 1_700_000_000_000 + checkpointId,
    kind,
    operators: [
      {
        operatorId: 'op-a',
        uid: 'source',
        name: 'Source: numbers',
        parallelism: 2,
        maxParallelism: 128,
        stateNames: ['splits'],
        subtasks: [
          { operatorId: 'op-a', files: files.slice(0, 1), inline: { splits: [{ id: 's0', offset: 42 }] } },
          { operatorId: 'op-a', files: [], inline: { splits: [] } },
        ],
      },
      {
        operatorId: 'op-b',
        uid: undefined,
        name: 'Keyed Reduce',
        parallelism: 2,
        maxParallelism: 128,
        stateNames: ['sum'],
        // An unaligned checkpoint's in-flight data rides on the head operator's state and must survive the round trip.
        subtasks: [
          undefined,
          files[1] === undefined
            ? { operatorId: 'op-b', files: files.slice(1) }
            : {
                operatorId: 'op-b',
                files: files.slice(1),
                channelState: { file: files[1], channels: [{ edge: 'op-a->op-b/0#0', partitioner: 'hash', producer: 1, producers: 2, records: 3, bytes: 40 }] },
              },
        ],
      },
    ],
  };
}

/** Writes checkpoint `id` with two state files and completes it. */
async function completeCheckpoint(
  storage: FileSystemCheckpointStorage,
  id: number,
): Promise<{ handles: StateFileHandle[]; payloads: Uint8Array[]; dir: string }> {
  const payloads = [new Uint8Array(randomBytes(1000 + id)), new TextEncoder().encode(`keyed state of checkpoint ${id}`)];
  const handles = [
    await storage.writeStateFile((id as CheckpointId), 'op-a-0.state', payloads[0]!),
    await storage.writeStateFile((id as CheckpointId), 'op-b-1.state', payloads[1]!),
  ];
  const dir = await storage.writeMetadata(metadataFor(id, handles));
  return { handles, payloads, dir };
}

async function flipByte(path: string, offset: number): Promise<void> {
  const data = await readFile(path);
  data[offset] = data[offset]! ^ 0xff;
  await writeFile(path, data);
}

test('storage: files and metadata round-trip, in the chk-<n> layout', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    assert.equal(storage.jobDir, join(base, JOB));
    const empty = await storage.writeStateFile((1 as CheckpointId), 'empty.state', new Uint8Array(0));
    const { handles, payloads, dir } = await completeCheckpoint(storage, 1);

    assert.equal(dir, join(base, JOB, 'chk-1'));
    assert.deepEqual(handles[0], {
      path: 'chk-1/op-a-0.state',
      size: payloads[0]!.byteLength,
      checksum: createHash('sha256').update(payloads[0]!).digest('hex'),
    });
    assert.deepEqual(empty, { path: 'chk-1/empty.state', size: 0, checksum: createHash('sha256').digest('hex') });
    assert.deepEqual((await readdir(storage.jobDir)).sort(), ['chk-1', 'shared', 'taskowned']);
    // No temporary files are left beside the published ones.
    assert.deepEqual((await readdir(dir)).sort(), ['_metadata', 'empty.state', 'op-a-0.state', 'op-b-1.state']);

    const loaded = await loadCheckpoint(dir);
    assert.deepEqual(loaded.metadata, metadataFor(1, handles));
    assert.equal(loaded.root, storage.jobDir);
    assert.equal(loaded.dir, dir);
    for (const [i, handle] of handles.entries()) assert.deepEqual(await storage.readStateFile(handle), payloads[i]);
    assert.deepEqual(await storage.readStateFile(empty), new Uint8Array(0));

    // The _metadata file itself, or a file:// URI, names the same checkpoint.
    assert.deepEqual((await loadCheckpoint(join(dir, '_metadata'))).metadata, loaded.metadata);
    assert.deepEqual((await loadCheckpoint(pathToFileURL(dir).href)).dir, dir);

    const envelope = JSON.parse(await readFile(join(dir, '_metadata'), 'utf8')) as Record<string, unknown>;
    assert.match(String(envelope['sha256']), /^[0-9a-f]{64}$/);
    assert.ok(!(await readFile(join(dir, '_metadata'), 'utf8')).includes(base), 'metadata holds no absolute paths');

    assert.deepEqual(await storage.listCheckpoints(), [{ checkpointId: 1, dir, ok: true }]);
  });
});

test('storage: large payloads round-trip and are verified, and a digest computed beforehand is the one recorded', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    // Above the size that is hashed on the thread pool.
    const large = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17));
    const handle = await storage.writeStateFile((1 as CheckpointId), 'large.state', large);
    assert.equal(handle.checksum, createHash('sha256').update(large).digest('hex'));
    assert.deepEqual(await storage.readStateFile(handle), large);
    const file = join(storage.jobDir, handle.path);
    await flipByte(file, 48 + 2 * 1024 * 1024);
    await assert.rejects(storage.readStateFile(handle), (e: unknown) => e instanceof CorruptCheckpointError && /checksum mismatch/.test(e.message));

    // A payload that comes with its digest is not hashed again: the digest given is what the file records.
    const payload = new Uint8Array(randomBytes(5000));
    const digest = createHash('sha256').update(payload).digest();
    const given = await storage.writeStateFile((1 as CheckpointId), 'given.state', withPayloadDigest(payload, digest));
    assert.equal(given.checksum, digest.toString('hex'));
    assert.deepEqual(await storage.readStateFile(given), payload);
    // A wrong one is recorded as given, and reading the file catches it.
    const other = new Uint8Array(randomBytes(5000));
    const wrong = await storage.writeStateFile((1 as CheckpointId), 'wrong.state', withPayloadDigest(other, digest));
    await assert.rejects(storage.readStateFile(wrong), (e: unknown) => e instanceof CorruptCheckpointError && /checksum mismatch/.test(e.message));
    assert.throws(() => withPayloadDigest(payload, new Uint8Array(16)), RangeError);
  });
});

test('storage: shared and taskowned files live in the job-level folders', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const shared = await storage.writeStateFile((4 as CheckpointId), 'sst-000017', new Uint8Array([1, 2, 3]), { scope: 'shared' });
    const owned = await storage.writeStateFile((4 as CheckpointId), 'channel-state', new Uint8Array([4]), { scope: 'taskowned' });
    assert.equal(shared.path, 'shared/c4-sst-000017');
    assert.equal(owned.path, 'taskowned/channel-state');
    const dir = await storage.writeMetadata(metadataFor(4, [shared, owned]));
    const loaded = await loadCheckpoint(dir);
    assert.deepEqual(await storage.readStateFile(shared, loaded.root), new Uint8Array([1, 2, 3]));
    // Discarding a completed checkpoint leaves its shared files to the registry's counts.
    await storage.discardCheckpoint((4 as CheckpointId));
    await stat(join(storage.jobDir, 'shared', 'c4-sst-000017'));
  });
});

test('storage: discarding a checkpoint that never completed deletes its shared files that no completed checkpoint references', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const kept = await storage.writeStateFile((5 as CheckpointId), 'sst-1', new Uint8Array([1]), { scope: 'shared' });
    await storage.writeMetadata(metadataFor(5, [kept]));
    // Checkpoint 6 lists 5's file again and uploads one of its own, then is aborted.
    const own = await storage.writeStateFile((6 as CheckpointId), 'sst-2', new Uint8Array([2]), { scope: 'shared' });
    await storage.writeStateFile((6 as CheckpointId), 'op-a-0.rdb', new Uint8Array([3]));
    await storage.discardCheckpoint((6 as CheckpointId));
    assert.deepEqual(await readdir(join(storage.jobDir, 'shared')), [kept.path.slice('shared/'.length)]);
    assert.equal(own.path, 'shared/c6-sst-2');
    // A restore of checkpoint 5 still finds every file it needs.
    const loaded = await loadCheckpoint(storage.checkpointDir((5 as CheckpointId)));
    assert.deepEqual(await storage.readStateFile(kept, loaded.root), new Uint8Array([1]));
  });
});

test('storage: a file:// URI base directory works like a path', async () => {
  await withTempDir(async (base) => {
    for (const uri of [pathToFileURL(base).href, `file://localhost${base}`]) {
      const storage = new FileSystemCheckpointStorage(uri, JOB);
      assert.equal(storage.jobDir, join(base, JOB));
    }
    const storage = new FileSystemCheckpointStorage(pathToFileURL(base).href, JOB);
    const { handles, payloads, dir } = await completeCheckpoint(storage, 3);
    assert.equal(dir, join(base, JOB, 'chk-3'));
    const loaded = await loadCheckpoint(dir);
    assert.deepEqual(await storage.readStateFile(handles[1]!, loaded.root), payloads[1]);
  });
});

test('storage: a base directory with another scheme is a clear error naming the setting', () => {
  for (const uri of ['s3://bucket/checkpoints', 'hdfs://namenode:8020/flink/checkpoints']) {
    assert.throws(
      () => new FileSystemCheckpointStorage(uri, JOB),
      (e: unknown) => e instanceof Error && e.message.includes('"state.checkpoints.dir"') && e.message.includes(uri) && /unsupported scheme/.test(e.message),
    );
  }
  assert.throws(() => new FileSystemCheckpointStorage('file://otherhost/checkpoints', JOB), /"state\.checkpoints\.dir".*not a valid file URI/);
  assert.throws(() => new FileSystemCheckpointStorage('', JOB), /"state\.checkpoints\.dir"/);
  assert.throws(() => new FileSystemCheckpointStorage('/tmp/x', '../escape'), /Invalid job id/);
});

test('savepoint: a copied savepoint loads from its new place after the original is deleted', async () => {
  await withTempDir(async (base) => {
    const target = join(base, 'savepoints');
    const writer = await createSavepointWriter(pathToFileURL(target).href, JOB);
    assert.match(basename(writer.dir), /^savepoint-a1b2c3-[0-9a-f]{12}$/);
    assert.equal(join(writer.dir, '..'), target);
    const payloads = [new Uint8Array(randomBytes(5000)), new Uint8Array([9, 8, 7])];
    const handles = [await writer.writeStateFile('op-a-0.state', payloads[0]!), await writer.writeStateFile('op-b-1.state', payloads[1]!)];
    assert.equal(handles[0]!.path, 'op-a-0.state');
    const metadata = metadataFor(5, handles, 'savepoint');
    assert.equal(await writer.writeMetadata(metadata), writer.dir);

    const moved = join(base, 'elsewhere', 'restored-savepoint');
    await cp(writer.dir, moved, { recursive: true });
    await rm(writer.dir, { recursive: true });

    const loaded = await loadCheckpoint(moved);
    assert.equal(loaded.root, moved);
    assert.equal(loaded.dir, moved);
    assert.deepEqual(loaded.metadata, metadata);
    const storage = new FileSystemCheckpointStorage(join(base, 'unrelated'), JOB);
    for (const [i, handle] of handles.entries()) assert.deepEqual(await storage.readStateFile(handle, loaded.root), payloads[i]);
  });
});

test('storage: a copied job directory restores its checkpoints from the new place', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(join(base, 'old'), JOB);
    const { handles, payloads } = await completeCheckpoint(storage, 2);
    await cp(storage.jobDir, join(base, 'new', JOB), { recursive: true });
    await storage.discardAll();

    const latest = await findLatestCompleteCheckpoint(join(base, 'new', JOB));
    assert.ok(latest !== undefined);
    assert.equal(latest.root, join(base, 'new', JOB));
    const moved = new FileSystemCheckpointStorage(join(base, 'new'), JOB);
    assert.deepEqual(await moved.readStateFile(handles[0]!), payloads[0]);
  });
});

test('corruption: a flipped byte in a state file is a CorruptCheckpointError naming the file', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const { handles, dir } = await completeCheckpoint(storage, 1);
    const file = join(storage.jobDir, handles[0]!.path);
    await flipByte(file, 48 + 500);

    const isChecksumError = (e: unknown): boolean =>
      e instanceof CorruptCheckpointError && e.file === file && e.message.includes(file) && /checksum mismatch/.test(e.message);
    await assert.rejects(loadCheckpoint(dir), isChecksumError);
    await assert.rejects(storage.readStateFile(handles[0]!), isChecksumError);
    // The unaffected file still reads.
    await storage.readStateFile(handles[1]!);

    // Damage to the header is caught without reading the payload.
    await flipByte(join(storage.jobDir, handles[1]!.path), 8);
    const [listed] = await storage.listCheckpoints();
    assert.equal(listed!.ok, false);
    assert.match(listed!.problem!, /op-b-1\.state/);
  });
});

test('corruption: a truncated state file is reported as truncated', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const { handles, dir } = await completeCheckpoint(storage, 1);
    const file = join(storage.jobDir, handles[0]!.path);
    await truncate(file, 48 + 10);
    await assert.rejects(loadCheckpoint(dir), (e: unknown) => e instanceof CorruptCheckpointError && e.file === file && /truncated/.test(e.message));
    await truncate(file, 20);
    await assert.rejects(storage.readStateFile(handles[0]!), /truncated/);
    await truncate(file, 0);
    await assert.rejects(storage.readStateFile(handles[0]!), /truncated/);
  });
});

test('corruption: a truncated or edited _metadata is detected', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const { dir } = await completeCheckpoint(storage, 1);
    const metadataPath = join(dir, '_metadata');
    const original = await readFile(metadataPath, 'utf8');

    await truncate(metadataPath, Math.floor(original.length / 2));
    await assert.rejects(loadCheckpoint(dir), (e: unknown) => e instanceof CorruptCheckpointError && e.file === metadataPath && /partial/.test(e.message));
    const [listed] = await storage.listCheckpoints();
    assert.equal(listed!.ok, false);
    assert.match(listed!.problem!, /_metadata/);

    await writeFile(metadataPath, original.replace('"timestamp":1700000000001', '"timestamp":1700000000999'));
    await assert.rejects(loadCheckpoint(dir), /checksum mismatch: the metadata was changed/);

    await writeFile(metadataPath, '');
    await assert.rejects(loadCheckpoint(dir), /empty/);
  });
});

test('corruption: a missing referenced file is an error naming it', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const { handles, dir } = await completeCheckpoint(storage, 1);
    const file = join(storage.jobDir, handles[1]!.path);
    await unlink(file);
    await assert.rejects(loadCheckpoint(dir), (e: unknown) => e instanceof CorruptCheckpointError && e.file === file && /missing/.test(e.message));
    const [listed] = await storage.listCheckpoints();
    assert.equal(listed!.ok, false);
    assert.match(listed!.problem!, /op-b-1\.state.*missing/);
  });
});

test('listing: a chk dir without _metadata (crash before completion) is not ok; newest first', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    await completeCheckpoint(storage, 1);
    await completeCheckpoint(storage, 2);
    await storage.writeStateFile((10 as CheckpointId), 'op-a-0.state', new Uint8Array([1]));
    const listed = await storage.listCheckpoints();
    assert.deepEqual(
      listed.map((c) => [c.checkpointId, c.ok]),
      [
        [10, false],
        [2, true],
        [1, true],
      ],
    );
    assert.match(listed[0]!.problem!, /no _metadata/);
    await assert.rejects(loadCheckpoint(listed[0]!.dir), /is not a checkpoint or savepoint directory: no _metadata/);
  });
});

test('recovery: findLatestCompleteCheckpoint skips partial and corrupt newer checkpoints', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    assert.equal(await findLatestCompleteCheckpoint(storage.jobDir), undefined);
    await completeCheckpoint(storage, 1);
    const second = await completeCheckpoint(storage, 2);
    const third = await completeCheckpoint(storage, 3);
    await storage.writeStateFile((4 as CheckpointId), 'op-a-0.state', new Uint8Array([1, 2]));
    // Payload damage that only a full read finds: listing still trusts chk-3, recovery must not.
    await flipByte(join(storage.jobDir, third.handles[0]!.path), 60);
    assert.equal((await storage.listCheckpoints())[1]!.ok, true);

    const latest = await findLatestCompleteCheckpoint(pathToFileURL(storage.jobDir).href);
    assert.ok(latest !== undefined);
    assert.equal(latest.dir, second.dir);
    assert.equal(latest.root, storage.jobDir);
    assert.deepEqual(latest.metadata, metadataFor(2, second.handles));
    assert.deepEqual(
      latest.skipped.map((s) => s.dir),
      [join(storage.jobDir, 'chk-4'), third.dir],
    );
    assert.match(latest.skipped[0]!.problem, /no _metadata/);
    assert.match(latest.skipped[1]!.problem, /op-a-0\.state.*checksum mismatch/);

    // Nothing complete at all.
    await storage.discardCheckpoint((1 as CheckpointId));
    await storage.discardCheckpoint((2 as CheckpointId));
    assert.equal(await findLatestCompleteCheckpoint(storage.jobDir), undefined);
  });
});

test('loading: a wrong path, a directory without _metadata, and a stray file are clear errors', async () => {
  await withTempDir(async (base) => {
    const missing = join(base, 'no-such-savepoint');
    await assert.rejects(loadCheckpoint(missing), (e: unknown) => e instanceof Error && e.message === `Checkpoint or savepoint path ${missing} does not exist`);
    await assert.rejects(loadCheckpoint(pathToFileURL(missing).href), /does not exist/);
    await assert.rejects(loadCheckpoint('s3://bucket/savepoint-1'), /unsupported scheme 's3'/);

    const plain = join(base, 'plain');
    await mkdir(plain);
    await assert.rejects(loadCheckpoint(plain), (e: unknown) => e instanceof Error && e.message === `${plain} is not a checkpoint or savepoint directory: no _metadata`);

    const storage = new FileSystemCheckpointStorage(base, JOB);
    await completeCheckpoint(storage, 1);
    await assert.rejects(loadCheckpoint(storage.jobDir), /no _metadata \(it holds chk-\* directories: pass one of them\)/);

    await writeFile(join(base, 'notes.txt'), 'hello');
    await assert.rejects(loadCheckpoint(join(base, 'notes.txt')), /is not a checkpoint or savepoint/);
  });
});

test('crash: a write that fails before the rename leaves no _metadata and no half file', async () => {
  await withTempDir(async (base) => {
    let failOn: string | undefined;
    const seen: string[] = [];
    const storage = new FileSystemCheckpointStorage(base, JOB, {
      beforeRename: async (finalPath, tempPath) => {
        seen.push(basename(finalPath));
        // The content is complete and synced under the temporary name by now.
        assert.ok((await stat(tempPath)).size > 0);
        if (failOn !== undefined && finalPath.endsWith(failOn)) throw new Error('simulated crash');
      },
    });
    const kept = await storage.writeStateFile((1 as CheckpointId), 'op-a-0.state', new Uint8Array([1, 2, 3]));
    const dir = storage.checkpointDir((1 as CheckpointId));

    failOn = 'op-b-1.state';
    await assert.rejects(storage.writeStateFile((1 as CheckpointId), 'op-b-1.state', new Uint8Array(100)), /simulated crash/);
    assert.deepEqual(await readdir(dir), ['op-a-0.state']);

    failOn = '_metadata';
    await assert.rejects(storage.writeMetadata(metadataFor(1, [kept])), /simulated crash/);
    assert.deepEqual(await readdir(dir), ['op-a-0.state']);
    assert.deepEqual((await storage.listCheckpoints()).map((c) => c.ok), [false]);
    assert.equal(await findLatestCompleteCheckpoint(storage.jobDir), undefined);
    assert.deepEqual(seen, ['op-a-0.state', 'op-b-1.state', '_metadata']);

    // Once the fault is gone the same checkpoint completes.
    failOn = undefined;
    await storage.writeMetadata(metadataFor(1, [kept]));
    assert.deepEqual((await storage.listCheckpoints()).map((c) => c.ok), [true]);
  });
});

test('crash: a failing savepoint metadata write leaves the savepoint unloadable, not half-written', async () => {
  await withTempDir(async (base) => {
    const writer = await createSavepointWriter(base, JOB, {
      beforeRename: (finalPath) => {
        if (finalPath.endsWith('_metadata')) throw new Error('simulated crash');
      },
    });
    const handle = await writer.writeStateFile('op-a-0.state', new Uint8Array([5]));
    await assert.rejects(writer.writeMetadata(metadataFor(1, [handle], 'savepoint')), /simulated crash/);
    assert.deepEqual(await readdir(writer.dir), ['op-a-0.state']);
    await assert.rejects(loadCheckpoint(writer.dir), /no _metadata/);
    await writer.discard();
    await assert.rejects(stat(writer.dir), { code: 'ENOENT' });
  });
});

test('names: path separators, ".." and reserved names are rejected', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const writer = await createSavepointWriter(base, JOB);
    for (const name of ['a/b', '../escape', '..', 'x..y', 'a\\b', '', '_metadata', '.', 'n'.repeat(300)]) {
      await assert.rejects(storage.writeStateFile((1 as CheckpointId), name, new Uint8Array(1)), /Invalid state file name/, name);
      await assert.rejects(writer.writeStateFile(name, new Uint8Array(1)), /Invalid state file name/, name);
    }
    await assert.rejects(stat(join(base, 'escape')), { code: 'ENOENT' });
    await assert.rejects(storage.writeStateFile((0 as CheckpointId), 'ok.state', new Uint8Array(1)), /Invalid checkpoint id/);
  });
});

test('metadata: absolute or escaping paths, wrong kind or job, and overwriting are refused', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    const good = await storage.writeStateFile((1 as CheckpointId), 'op-a-0.state', new Uint8Array([1]));
    for (const path of ['/etc/passwd', '../other/chk-1/x', 'chk-1/../../x', 'chk-1//x']) {
      await assert.rejects(storage.writeMetadata(metadataFor(1, [{ ...good, path }])), /Invalid checkpoint metadata: .*not a relative path/, path);
    }
    await assert.rejects(storage.writeMetadata(metadataFor(1, [good], 'savepoint')), /kind 'checkpoint'/);
    await assert.rejects(storage.writeMetadata({ ...metadataFor(1, [good]), jobId: 'other' }), /job other/);
    await storage.writeMetadata(metadataFor(1, [good]));
    await assert.rejects(storage.writeMetadata(metadataFor(1, [good])), /already exists/);

    const writer = await createSavepointWriter(base, JOB);
    await assert.rejects(writer.writeMetadata(metadataFor(1, [])), /kind 'savepoint'/);
  });
});

test('discard: discardCheckpoint is idempotent and discardAll removes the job directory', async () => {
  await withTempDir(async (base) => {
    const storage = new FileSystemCheckpointStorage(base, JOB);
    await completeCheckpoint(storage, 1);
    const { dir } = await completeCheckpoint(storage, 2);
    await storage.discardCheckpoint((1 as CheckpointId));
    await storage.discardCheckpoint((1 as CheckpointId));
    assert.deepEqual(
      (await storage.listCheckpoints()).map((c) => c.dir),
      [dir],
    );
    await storage.discardAll();
    await assert.rejects(stat(storage.jobDir), { code: 'ENOENT' });
    assert.deepEqual(await storage.listCheckpoints(), []);
    await storage.discardAll();
    // The layout is recreated for later checkpoints.
    await completeCheckpoint(storage, 3);
    assert.deepEqual((await readdir(storage.jobDir)).sort(), ['chk-3', 'shared', 'taskowned']);
  });
});

runCheckpointStorageContract('FileSystemCheckpointStorage', () => {
  const dirs: string[] = [];
  const temp = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'weir-checkpoint-contract-'));
    dirs.push(dir);
    return dir;
  };
  return {
    async create(jobId, failBeforePublish) {
      const base = await temp();
      const hooks = {
        beforeRename: (finalPath: string) => {
          if (failBeforePublish?.(basename(finalPath))) throw new Error(`simulated crash before publishing ${basename(finalPath)}`);
        },
      };
      return { storage: new FileSystemCheckpointStorage(base, jobId, hooks), reader: fileSystemCheckpointReader, savepointTarget: join(base, 'savepoints') };
    },
    locate: (root, handle) => join(root, ...handle.path.split('/')),
    metadataOf: (dir) => join(dir, '_metadata'),
    read: (location) => readFile(location),
    write: (location, bytes) => writeFile(location, bytes),
    list: async (dir) => (await readdir(dir).catch(() => [] as string[])).sort(),
    async copy(from) {
      const to = join(await temp(), basename(from));
      await cp(from, to, { recursive: true });
      return to;
    },
    remove: (location) => rm(location, { recursive: true, force: true }),
    exists: async (location) => (await stat(location).catch(() => undefined)) !== undefined,
    async cleanup() {
      for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
    },
  };
});

test('copyStatePayload writes a state file\'s payload to a local file, verified; a corrupt or missing file leaves no file behind and names itself', async () => {
  await withTempDir(async (dir) => {
    const storage = new FileSystemCheckpointStorage(join(dir, 'checkpoints'), JOB);
    // Larger than one 4 MiB slice, so the copy takes several.
    const payload = randomBytes((9 << 20) + 123);
    const handle = await storage.writeStateFile(1 as CheckpointId, 'big.sst', payload, { scope: 'shared' });
    const copy = fileSystemCheckpointReader.copyStatePayload!;
    const dest = join(dir, 'copy.sst');
    await copy(storage.jobDir, handle, dest);
    assert.ok(Buffer.from(await readFile(dest)).equals(payload), 'the copy holds exactly the payload');

    const stored = join(storage.jobDir, handle.path);
    const bytes = await readFile(stored);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(stored, bytes);
    const bad = join(dir, 'bad.sst');
    await assert.rejects(copy(storage.jobDir, handle, bad), (e: unknown) => e instanceof CorruptCheckpointError && /checksum mismatch/.test((e as Error).message) && (e as Error).message.includes(handle.path));
    await assert.rejects(stat(bad), /ENOENT/, 'no partial copy is left');
    await unlink(stored);
    await assert.rejects(copy(storage.jobDir, handle, bad), (e: unknown) => e instanceof CorruptCheckpointError && /missing/.test((e as Error).message));
    await assert.rejects(stat(bad), /ENOENT/);
  });
});
