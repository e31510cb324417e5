/**
 * Savepoints on the file system: `savepoint-<first 6 chars of jobId>-<12 random hex>/` under a
 * target directory, with `_metadata` and every file it references inside, so the directory is
 * self-contained and relocatable.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointMetadata, StateFileHandle } from '../checkpoint-types.ts';
import type { SavepointWriter } from '../checkpoint-storage.ts';
import type { StorageHooks } from './atomic-write.ts';
import { encodeMetadata } from './metadata-codec.ts';
import { publishMetadata } from './metadata-publisher.ts';
import { writeStateFileIn } from './state-file-format.ts';
import { checkFileName, checkJobId, toLocalPath } from './storage-paths.ts';

/**
 * Creates `savepoint-<first 6 of jobId>-<12 random hex>` under `targetDir` (a path or file://
 * URI; created if missing) and returns a writer rooted there. Handles it returns are relative to
 * the savepoint directory, so the directory is self-contained and relocatable.
 */
export async function createSavepointWriter(targetDir: string, jobId: string, hooks: StorageHooks = {}): Promise<SavepointWriter> {
  checkJobId(jobId);
  const target = toLocalPath(targetDir, 'savepoint target directory ("state.savepoints.dir")');
  await mkdir(target, { recursive: true });
  const dir = join(target, `savepoint-${jobId.slice(0, 6)}-${randomBytes(6).toString('hex')}`);
  // Not recursive: an existing directory of that name is an error rather than shared.
  await mkdir(dir);
  return new FileSystemSavepointWriter(dir, target, jobId, hooks);
}

/**
 * Writes one state file of a savepoint into its directory, which must exist (a subtask's side of
 * a savepoint whose directory the job created with createSavepointWriter). The handle's path is
 * the plain `name`, relative to the savepoint directory.
 */
export async function writeSavepointStateFile(savepointDir: string, name: string, payload: Uint8Array, hooks: StorageHooks = {}): Promise<StateFileHandle> {
  checkFileName(name);
  const dir = toLocalPath(savepointDir, 'savepoint directory');
  return writeStateFileIn(dir, name, name, payload, hooks);
}

class FileSystemSavepointWriter implements SavepointWriter {
  readonly dir: string;
  readonly #parent: string;
  readonly #jobId: string;
  readonly #hooks: StorageHooks;

  constructor(dir: string, parent: string, jobId: string, hooks: StorageHooks) {
    this.dir = dir;
    this.#parent = parent;
    this.#jobId = jobId;
    this.#hooks = hooks;
  }

  async writeStateFile(name: string, payload: Uint8Array): Promise<StateFileHandle> {
    checkFileName(name);
    return writeStateFileIn(this.dir, name, name, payload, this.#hooks);
  }

  async writeMetadata(m: CheckpointMetadata): Promise<string> {
    if (m.kind !== 'savepoint') {
      throw new Error(`A savepoint writer only writes metadata of kind 'savepoint', got '${String(m.kind)}'`);
    }
    if (m.jobId !== this.#jobId) {
      throw new Error(`Metadata of job ${String(m.jobId)} cannot be written into a savepoint of job ${this.#jobId}`);
    }
    const text = encodeMetadata(m);
    await publishMetadata(this.dir, text, m, this.dir, [this.#parent], this.#hooks);
    return this.dir;
  }

  async discard(): Promise<void> {
    // Subtasks of a failed savepoint may still be writing into it: rm retries when it meets a file that appeared meanwhile.
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }
}
