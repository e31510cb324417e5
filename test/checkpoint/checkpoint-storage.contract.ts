/**
 * Behaviour every CheckpointStorage (with its CheckpointReader) must have: atomic publication,
 * verified reads, detected `_metadata` corruption, relocatable checkpoints and savepoints,
 * retention that releases shared files once nothing references them, and restore-path
 * resolution to the newest complete valid checkpoint. An implementation's test calls
 * runCheckpointStorageContract with a factory and a few ways to reach its stored bytes.
 */
import type { CheckpointId } from '../../src/core/ids.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { CheckpointMetadata, StateFileHandle } from '../../src/checkpoint/checkpoint-types.ts';
import { CompletedCheckpointStore } from '../../src/checkpoint/completed-checkpoint-store.ts';
import { subsumedCheckpoints, type CheckpointReader, type CheckpointStorage } from '../../src/checkpoint/checkpoint-storage.ts';
import { CorruptCheckpointError } from '../../src/core/errors.ts';

const JOB = 'c0ffee00112233445566778899aabbcc';

export interface CheckpointStorageUnderTest {
  readonly storage: CheckpointStorage;
  readonly reader: CheckpointReader;
  /** A place for savepoints of this storage. */
  readonly savepointTarget: string;
}

export interface CheckpointStorageHarness {
  /**
   * A fresh storage for job `jobId`. `failBeforePublish(name)` is asked, for every file about to
   * appear under its final name, whether to fail there as a crash would.
   */
  create(jobId: string, failBeforePublish?: (name: string) => boolean): Promise<CheckpointStorageUnderTest>;
  /** Where a handle's bytes are stored (under `root` as LoadedCheckpoint.root); used to damage them. */
  locate(root: string, handle: StateFileHandle): string;
  /** Where the `_metadata` of a checkpoint or savepoint is. */
  metadataOf(dir: string): string;
  /** The stored bytes at a location, and replacing them. */
  read(location: string): Promise<Buffer>;
  write(location: string, bytes: Buffer): Promise<void>;
  /** The names directly inside a checkpoint's or savepoint's location (none when it does not exist). */
  list(dir: string): Promise<string[]>;
  /** Copies a savepoint or a job's checkpoints to a new place, returning it; `remove` then deletes the original. */
  copy(from: string): Promise<string>;
  remove(location: string): Promise<void>;
  exists(location: string): Promise<boolean>;
  /** Releases everything the harness made. */
  cleanup(): Promise<void>;
}

function metadataFor(jobId: string, checkpointId: number, files: readonly StateFileHandle[], kind: 'checkpoint' | 'savepoint' = 'checkpoint'): CheckpointMetadata {
  return {
    version: 1,
    jobId,
    checkpointId: checkpointId as CheckpointId,
    timestamp: 1_700_000_000_000 + checkpointId,
    kind,
    operators: [
      {
        operatorId: 'op-a',
        uid: 'counts',
        name: 'Keyed Reduce',
        parallelism: 2,
        maxParallelism: 128,
        stateNames: ['sum'],
        subtasks: [
          { operatorId: 'op-a', files: files.slice(0, 1), inline: { watermark: 7 } },
          { operatorId: 'op-a', files: files.slice(1) },
        ],
      },
    ],
  };
}

async function completeCheckpoint(
  storage: CheckpointStorage,
  id: number,
  shared: readonly StateFileHandle[] = [],
): Promise<{ handles: StateFileHandle[]; payloads: Uint8Array[]; dir: string }> {
  const payloads = [new Uint8Array(randomBytes(2000 + id)), new TextEncoder().encode(`keyed state of checkpoint ${id}`)];
  const handles = [await storage.writeStateFile((id as CheckpointId), 'op-a-0.kstate', payloads[0]!), await storage.writeStateFile((id as CheckpointId), 'op-a-1.kstate', payloads[1]!)];
  const dir = await storage.writeMetadata(metadataFor(storage.jobId, id, [...handles, ...shared]));
  return { handles, payloads, dir };
}

/** The parts of parsed metadata the shape checks change. */
interface EditableMetadata {
  kind: unknown;
  jobId?: unknown;
  operators: { parallelism: unknown; subtasks: { files: { path: unknown; checksum: unknown }[] }[] }[];
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export function runCheckpointStorageContract(name: string, harness: () => CheckpointStorageHarness): void {
  describe(`${name}: checkpoint storage contract`, () => {
    const withStorage = (title: string, fn: (h: CheckpointStorageHarness) => Promise<void>): void => {
      test(title, async () => {
        const h = harness();
        try {
          await fn(h);
        } finally {
          await h.cleanup();
        }
      });
    };

    withStorage('files round-trip, verified, with relative handles', async (h) => {
      const { storage, reader } = await h.create(JOB);
      const { handles, payloads, dir } = await completeCheckpoint(storage, 1);
      for (const handle of handles) assert.ok(!handle.path.startsWith('/') && !handle.path.includes('..'), handle.path);
      const loaded = await reader.loadCheckpoint(dir);
      assert.deepEqual(loaded.metadata, metadataFor(JOB, 1, handles));
      for (const [i, handle] of handles.entries()) {
        assert.deepEqual(await reader.readStateFile(loaded.root, handle), payloads[i]);
        assert.deepEqual(await storage.readStateFile(handle), payloads[i]);
      }
      assert.deepEqual(await storage.listCheckpoints(), [{ checkpointId: 1, dir, ok: true }]);
    });

    withStorage('atomicity: a crash before a file is published leaves nothing under its final name', async (h) => {
      let failOn: string | undefined;
      const { storage } = await h.create(JOB, (n) => n === failOn);
      const kept = await storage.writeStateFile((1 as CheckpointId), 'op-a-0.kstate', new Uint8Array([1, 2, 3]));
      const dir = storage.checkpointDir((1 as CheckpointId));

      failOn = 'op-a-1.kstate';
      await assert.rejects(storage.writeStateFile((1 as CheckpointId), 'op-a-1.kstate', new Uint8Array(4096)), /crash/);
      assert.deepEqual(await h.list(dir), ['op-a-0.kstate'], 'no partial or temporary file stays behind');

      failOn = '_metadata';
      await assert.rejects(storage.writeMetadata(metadataFor(JOB, 1, [kept])), /crash/);
      assert.deepEqual(await h.list(dir), ['op-a-0.kstate']);
      assert.deepEqual((await storage.listCheckpoints()).map((c) => c.ok), [false]);
      assert.equal(await storage.latestCompleteCheckpoint(), undefined);

      failOn = undefined;
      await storage.writeMetadata(metadataFor(JOB, 1, [kept]));
      assert.deepEqual((await storage.listCheckpoints()).map((c) => c.ok), [true]);
    });

    withStorage('checksums: a flipped byte, a truncated file and a wrong size are CorruptCheckpointErrors naming file and problem', async (h) => {
      const { storage, reader } = await h.create(JOB);
      const { handles, dir } = await completeCheckpoint(storage, 1);
      const { root } = await reader.loadCheckpoint(dir);
      const file = h.locate(root, handles[0]!);
      const original = await h.read(file);
      const corrupt = (problem: RegExp) => (e: unknown) => {
        assert.ok(e instanceof CorruptCheckpointError, String(e));
        assert.equal(e.file, file);
        assert.ok(e.message.includes(file), e.message);
        assert.match(e.message, problem);
        return true;
      };

      const flipped = Buffer.from(original);
      flipped[flipped.length - 100] = flipped[flipped.length - 100]! ^ 0xff;
      await h.write(file, flipped);
      await assert.rejects(reader.readStateFile(root, handles[0]!), corrupt(/checksum mismatch/));
      await assert.rejects(reader.loadCheckpoint(dir), corrupt(/checksum mismatch/));
      await assert.rejects(reader.resolveRestorePath(storage.jobDir));

      await h.write(file, original.subarray(0, original.length - 10));
      await assert.rejects(reader.readStateFile(root, handles[0]!), corrupt(/truncated/));

      await h.write(file, original);
      await assert.rejects(reader.readStateFile(root, { ...handles[0]!, size: handles[0]!.size + 1 }), corrupt(/size mismatch/));
      // Intact again: reads.
      await reader.readStateFile(root, handles[0]!);
    });

    withStorage('_metadata: truncated, edited or of the wrong shape is a CorruptCheckpointError naming the file (and the field)', async (h) => {
      const { storage, reader } = await h.create(JOB);
      const { dir } = await completeCheckpoint(storage, 1);
      const path = h.metadataOf(dir);
      const original = (await h.read(path)).toString('utf8');
      const corrupt = (problem: RegExp) => (e: unknown) => {
        assert.ok(e instanceof CorruptCheckpointError, String(e));
        assert.equal(e.file, path);
        assert.match(e.message, problem);
        return true;
      };

      await h.write(path, Buffer.from(original.slice(0, Math.floor(original.length / 2))));
      await assert.rejects(reader.loadCheckpoint(dir), corrupt(/partial/));
      assert.equal((await storage.listCheckpoints())[0]!.ok, false);

      await h.write(path, Buffer.from(original.replace('"parallelism":2', '"parallelism":3')));
      await assert.rejects(reader.loadCheckpoint(dir), corrupt(/checksum mismatch/));

      // Well-formed JSON with a matching checksum but a field of the wrong type or value.
      const envelope = JSON.parse(original) as { sha256: string; metadata: EditableMetadata };
      for (const [change, field] of [
        [(m: EditableMetadata) => (m.operators[0]!.parallelism = 'two'), /metadata\.operators\[0\]\.parallelism is not a number/],
        [(m: EditableMetadata) => (m.operators[0]!.subtasks[1]!.files[0]!.checksum = 'xyz'), /metadata\.operators\[0\]\.subtasks\[1\]\.files\[0\]\.checksum is not a sha256 hex digest/],
        [(m: EditableMetadata) => (m.operators[0]!.subtasks[0]!.files[0]!.path = '../../etc/passwd'), /metadata\.operators\[0\]\.subtasks\[0\]\.files\[0\]\.path .* is not a relative path/],
        [(m: EditableMetadata) => (m.kind = 'snapshot'), /metadata\.kind is "snapshot"/],
        [(m: EditableMetadata) => delete m.jobId, /metadata\.jobId is missing/],
      ] as const) {
        const metadata = structuredClone(envelope.metadata);
        change(metadata);
        const body = JSON.stringify(metadata);
        await h.write(path, Buffer.from(JSON.stringify({ ...envelope, sha256: sha256(body), metadata })));
        await assert.rejects(reader.loadCheckpoint(dir), corrupt(field));
      }
      await h.write(path, Buffer.from(original));
      await reader.loadCheckpoint(dir);
    });

    withStorage('relocation: a copied savepoint and a copied job directory restore from their new places', async (h) => {
      const { storage, reader, savepointTarget } = await h.create(JOB);
      const writer = await storage.createSavepoint(savepointTarget);
      const payload = new Uint8Array(randomBytes(5000));
      const handle = await writer.writeStateFile('op-a-0.kstate', payload);
      const other = await storage.writeSavepointStateFile(writer.dir, 'op-a-1.kstate', new Uint8Array([9]));
      const savepoint = await writer.writeMetadata(metadataFor(JOB, 3, [handle, other], 'savepoint'));
      const movedSavepoint = await h.copy(savepoint);
      await h.remove(savepoint);
      const loaded = await reader.loadCheckpoint(movedSavepoint);
      assert.equal(loaded.metadata.kind, 'savepoint');
      assert.deepEqual(await reader.readStateFile(loaded.root, handle), payload);
      assert.deepEqual((await reader.resolveRestorePath(movedSavepoint)).metadata, loaded.metadata);

      await completeCheckpoint(storage, 1);
      const second = await completeCheckpoint(storage, 2);
      const movedJob = await h.copy(storage.jobDir);
      await storage.discardAll();
      const resolved = await reader.resolveRestorePath(movedJob);
      assert.equal(resolved.metadata.checkpointId, 2);
      assert.deepEqual(await reader.readStateFile(resolved.root, second.handles[0]!), second.payloads[0]);
    });

    withStorage('retention: the newest num-retained stay; shared files go once no retained checkpoint references them', async (h) => {
      const { storage } = await h.create(JOB);
      const sharedFile = async (id: number, n: string) => storage.writeStateFile((id as CheckpointId), n, new TextEncoder().encode(n), { scope: 'shared' });
      const a = await sharedFile(1, 'sst-a');
      const b = await sharedFile(1, 'sst-b');
      const c = await sharedFile(3, 'sst-c');
      const store = new CompletedCheckpointStore({ numRetained: 2, discard: (id) => storage.releaseCheckpoint(id) });
      const refs = { 1: [a, b], 2: [a], 3: [a, c], 4: [c] } as const;
      const dirs: string[] = [];
      for (const id of [1, 2, 3, 4] as const) {
        const { dir } = await completeCheckpoint(storage, id, refs[id]);
        dirs.push(dir);
        await store.add({ checkpointId: id as CheckpointId, timestamp: id, dir, metadata: (await storage.latestCompleteCheckpoint())!.metadata, stateSize: 0 });
      }
      assert.deepEqual(store.all().map((x) => x.checkpointId), [3, 4]);
      assert.deepEqual((await storage.listCheckpoints()).map((x) => x.checkpointId), [4, 3]);
      assert.equal(await h.exists(dirs[0]!), false);
      assert.equal(await h.exists(h.locate(storage.jobDir, b)), false, 'only chk-1 referenced b');
      assert.equal(await h.exists(h.locate(storage.jobDir, a)), true, 'chk-3 still references a');
      assert.equal(storage.sharedState.referenceCount(a.path), 1);
      assert.equal(storage.sharedState.referenceCount(c.path), 2);
      assert.deepEqual(await storage.readStateFile(c), new TextEncoder().encode('sst-c'));

      await store.shutdown('DISCARD');
      for (const f of [a, b, c]) assert.equal(await h.exists(h.locate(storage.jobDir, f)), false, f.path);
      assert.deepEqual(await storage.listCheckpoints(), []);
      assert.deepEqual(subsumedCheckpoints([4, 1, 3, 2], 2), [1, 2]);
      assert.deepEqual(subsumedCheckpoints([1], 3), []);
    });

    withStorage('restore paths: a checkpoint, a savepoint, or a job directory → its newest complete valid checkpoint', async (h) => {
      const { storage, reader, savepointTarget } = await h.create(JOB);
      await assert.rejects(reader.resolveRestorePath(storage.jobDir));
      const first = await completeCheckpoint(storage, 1);
      const second = await completeCheckpoint(storage, 2);
      const third = await completeCheckpoint(storage, 3);
      await storage.writeStateFile((4 as CheckpointId), 'op-a-0.kstate', new Uint8Array([1])); // never completed
      const file = h.locate(storage.jobDir, third.handles[0]!);
      const bytes = await h.read(file);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      await h.write(file, bytes);

      const resolved = await reader.resolveRestorePath(storage.jobDir);
      assert.equal(resolved.dir, second.dir);
      assert.equal(resolved.metadata.checkpointId, 2);
      assert.deepEqual(resolved.skipped.map((s) => s.dir), [storage.checkpointDir((4 as CheckpointId)), third.dir]);
      assert.equal((await storage.latestCompleteCheckpoint())!.dir, second.dir);

      assert.equal((await reader.resolveRestorePath(first.dir)).metadata.checkpointId, 1);
      await assert.rejects(reader.resolveRestorePath(third.dir), CorruptCheckpointError);

      const writer = await storage.createSavepoint(savepointTarget);
      const sp = await writer.writeMetadata(metadataFor(JOB, 9, [], 'savepoint'));
      assert.equal((await reader.resolveRestorePath(sp)).metadata.kind, 'savepoint');
    });
  });
}
