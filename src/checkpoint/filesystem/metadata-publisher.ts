/** Completing a checkpoint or savepoint: publishing its `_metadata` durably, after what it references. */
import { join, dirname } from 'node:path';
import type { CheckpointMetadata } from '../checkpoint-types.ts';
import { type StorageHooks, syncDirectory, writeAtomically } from './atomic-write.ts';
import { errorCode, exists } from './file-system-helpers.ts';
import { referencedFiles } from './metadata-codec.ts';
import { METADATA_FILE_NAME, resolveHandle } from './storage-paths.ts';

/**
 * Publishes `_metadata` in `dir`. The directories of all referenced files, and `extraDirs`
 * (where `dir`'s own entry lives), are synced first so the metadata never outlives what it
 * points at; `dir` is synced afterwards so the completion is durable. An existing `_metadata`
 * is never replaced: a completed checkpoint or savepoint is immutable.
 */
export async function publishMetadata(
  dir: string,
  text: string,
  metadata: CheckpointMetadata,
  root: string,
  extraDirs: readonly string[],
  hooks: StorageHooks,
): Promise<void> {
  const finalPath = join(dir, METADATA_FILE_NAME);
  if (await exists(finalPath)) {
    throw new Error(`${finalPath} already exists: a completed checkpoint or savepoint is never overwritten`);
  }
  const dirs = new Set<string>([dir, ...extraDirs]);
  for (const handle of referencedFiles(metadata)) dirs.add(dirname(resolveHandle(root, handle)));
  for (const d of dirs) {
    try {
      await syncDirectory(d);
    } catch (e) {
      if (errorCode(e) === 'ENOENT') {
        throw new Error(`Cannot complete ${dir}: directory ${d} of referenced state files does not exist`, { cause: e });
      }
      throw e;
    }
  }
  await writeAtomically(dir, METADATA_FILE_NAME, [Buffer.from(text, 'utf8')], hooks);
  await syncDirectory(dir);
}
