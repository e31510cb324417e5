/**
 * Checking checkpoint directories: a chk-<n> or savepoint directory is complete when its
 * `_metadata` reads back valid and every file it references is present with the recorded size
 * and header (and, for a full check, payload checksum).
 */
import { asCheckpointId, type CheckpointId } from '../../core/ids.ts';
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CorruptCheckpointError } from '../../core/errors.ts';
import type { CheckpointMetadata, StateFileHandle } from '../checkpoint-types.ts';
import { errorCode, errorMessage, exists } from './file-system-helpers.ts';
import { readMetadataFile, referencedFiles } from './metadata-codec.ts';
import { verifyStateFileAt } from './state-file-format.ts';
import { METADATA_FILE_NAME, resolveHandle } from './storage-paths.ts';

/** Referenced files verified at once when checking a checkpoint. */
const VERIFY_CONCURRENCY = 8;
const CHECKPOINT_DIR_PATTERN = /^chk-(\d+)$/;

/**
 * Reads and verifies the metadata in `dir` and checks every referenced file (payload checksums
 * only with `full`). Checkpoint paths resolve against the parent directory, savepoint paths
 * against `dir` itself.
 */
export async function verifyDirectory(dir: string, full: boolean): Promise<{ metadata: CheckpointMetadata; root: string }> {
  const metadataPath = join(dir, METADATA_FILE_NAME);
  const metadata = await readMetadataFile(metadataPath);
  const root = metadata.kind === 'checkpoint' ? dirname(dir) : dir;
  let files: StateFileHandle[];
  try {
    files = referencedFiles(metadata);
  } catch (e) {
    throw new CorruptCheckpointError(metadataPath, `malformed metadata: ${errorMessage(e)}`, { cause: e });
  }
  await forEachInOrder(files, VERIFY_CONCURRENCY, (h) => verifyStateFileAt(resolveHandle(root, h), h, full));
  return { metadata, root };
}

/** Whether chk-<checkpointId> at `dir` is a usable checkpoint, and if not, why. */
export async function inspectCheckpoint(
  dir: string,
  checkpointId: CheckpointId,
  full: boolean,
): Promise<{ ok: true; metadata: CheckpointMetadata; root: string } | { ok: false; problem: string }> {
  if (!(await exists(join(dir, METADATA_FILE_NAME)))) {
    return { ok: false, problem: `no ${METADATA_FILE_NAME}: the checkpoint did not complete` };
  }
  let verified: { metadata: CheckpointMetadata; root: string };
  try {
    verified = await verifyDirectory(dir, full);
  } catch (e) {
    if (e instanceof CorruptCheckpointError) return { ok: false, problem: e.message };
    throw e;
  }
  const { metadata } = verified;
  if (metadata.kind !== 'checkpoint') {
    return { ok: false, problem: `${METADATA_FILE_NAME} describes a ${metadata.kind}, not a checkpoint` };
  }
  if (metadata.checkpointId !== checkpointId) {
    return { ok: false, problem: `${METADATA_FILE_NAME} describes checkpoint ${metadata.checkpointId}, not ${checkpointId}` };
  }
  return { ok: true, ...verified };
}

/** chk-<n> subdirectories of `jobDir`, newest first; none when `jobDir` does not exist. */
export async function listCheckpointDirs(jobDir: string): Promise<{ checkpointId: CheckpointId; dir: string }[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(jobDir, { withFileTypes: true });
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
  const out: { checkpointId: CheckpointId; dir: string }[] = [];
  for (const entry of entries) {
    const match = CHECKPOINT_DIR_PATTERN.exec(entry.name);
    if (match === null || !entry.isDirectory()) continue;
    const id = Number(match[1]);
    if (Number.isSafeInteger(id) && id >= 1) out.push({ checkpointId: asCheckpointId(id), dir: join(jobDir, entry.name) });
  }
  return out.sort((a, b) => b.checkpointId - a.checkpointId);
}

/**
 * Runs `fn` over `items` with bounded concurrency; on failure, the error of the earliest failing
 * item (in order) is thrown, so reports do not depend on timing more than necessary.
 */
async function forEachInOrder<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: { index: number; error: unknown }[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length && failures.length === 0) {
      const index = next++;
      try {
        await fn(items[index]!);
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures.reduce((a, b) => (b.index < a.index ? b : a)).error;
}
