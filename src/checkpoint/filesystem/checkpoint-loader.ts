/**
 * Loading checkpoints and savepoints for a restore: by exact path, or the newest complete one of
 * a job's checkpoint directory. Checkpoint handles resolve against the job directory (the
 * chk-<n> directory's parent), savepoint handles against the savepoint directory, so both can be
 * relocated.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { StateFileHandle } from '../checkpoint-types.ts';
import type { CheckpointReader, LoadedCheckpoint, ResolvedRestorePath } from '../checkpoint-storage.ts';
import { inspectCheckpoint, listCheckpointDirs, verifyDirectory } from './checkpoint-inspection.ts';
import { errorCode, exists } from './file-system-helpers.ts';
import { copyStatePayloadAt, readStateFileAt } from './state-file-format.ts';
import { METADATA_FILE_NAME, resolveHandle, toLocalPath } from './storage-paths.ts';

/**
 * Reads one state file of a loaded checkpoint or savepoint (`root` as LoadedCheckpoint.root) and
 * verifies it against its header and handle; a missing, truncated or altered file is a
 * CorruptCheckpointError naming it.
 */
export function readStateFile(root: string, handle: StateFileHandle): Promise<Uint8Array> {
  return readStateFileAt(resolveHandle(root, handle), handle);
}

/** Writes one state file's payload to `dest`, verified as readStateFile verifies it (state-file-format.ts). */
export function copyStatePayload(root: string, handle: StateFileHandle, dest: string): Promise<void> {
  return copyStatePayloadAt(resolveHandle(root, handle), handle, dest);
}

/**
 * Loads the checkpoint or savepoint at `path` (a chk-<n> or savepoint directory, its _metadata
 * file, or a file:// URI of either) and verifies it fully, including every referenced file's
 * payload checksum. Paths of checkpoints resolve against the job directory (the chk-<n>
 * directory's parent), paths of savepoints against the savepoint directory.
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const target = toLocalPath(path, 'checkpoint or savepoint path');
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(target)).isDirectory();
  } catch (e) {
    if (errorCode(e) === 'ENOENT') throw new Error(`Checkpoint or savepoint path ${target} does not exist`);
    throw e;
  }
  let dir: string;
  if (isDirectory) dir = target;
  else if (basename(target) === METADATA_FILE_NAME) dir = dirname(target);
  else throw new Error(`${target} is not a checkpoint or savepoint: expected a chk-<n> or savepoint directory or its ${METADATA_FILE_NAME} file`);

  if (!(await exists(join(dir, METADATA_FILE_NAME)))) {
    const hasCheckpoints = (await listCheckpointDirs(dir)).length > 0;
    const hint = hasCheckpoints ? ' (it holds chk-* directories: pass one of them)' : '';
    throw new Error(`${dir} is not a checkpoint or savepoint directory: no ${METADATA_FILE_NAME}${hint}`);
  }
  const { metadata, root } = await verifyDirectory(dir, true);
  return { metadata, root, dir };
}

/**
 * The newest complete checkpoint of a job directory (a path or file:// URI), fully verified.
 * Newer chk-* directories that are partial (no _metadata), corrupt, or whose metadata names a
 * different checkpoint are skipped and reported in `skipped`, newest first, so recovery falls
 * back to the previous checkpoint. Other I/O errors (permissions, device errors) are thrown
 * rather than silently skipped. undefined when no checkpoint is complete.
 */
export async function findLatestCompleteCheckpoint(
  jobDir: string,
): Promise<(LoadedCheckpoint & { skipped: { dir: string; problem: string }[] }) | undefined> {
  const skipped: { dir: string; problem: string }[] = [];
  for (const { checkpointId, dir } of await listCheckpointDirs(toLocalPath(jobDir, 'job checkpoint directory'))) {
    const verdict = await inspectCheckpoint(dir, checkpointId, true);
    if (verdict.ok) return { metadata: verdict.metadata, root: verdict.root, dir, skipped };
    skipped.push({ dir, problem: verdict.problem });
  }
  return undefined;
}

/**
 * A checkpoint or savepoint directory (or its `_metadata`) as loadCheckpoint loads it; a job's
 * checkpoint directory (one holding chk-* directories and no `_metadata`) as its newest complete
 * valid checkpoint; a checkpoint base directory holding one job's directory as that job's newest.
 * An error naming the skipped ones when none is complete, and one naming the jobs when the base
 * directory holds several.
 */
export async function resolveRestorePath(path: string): Promise<ResolvedRestorePath> {
  const target = toLocalPath(path, 'checkpoint or savepoint path');
  if (!(await exists(join(target, METADATA_FILE_NAME)))) {
    if ((await listCheckpointDirs(target)).length > 0) return newestIn(target);
    // The checkpoint base directory (state.checkpoints.dir): its job directories hold chk-*.
    const jobDirs = await jobDirectoriesIn(target);
    if (jobDirs.length === 1) return newestIn(jobDirs[0]!);
    if (jobDirs.length > 1) {
      throw new Error(
        `${target} holds the checkpoints of ${jobDirs.length} jobs (${jobDirs.map((d) => basename(d)).join(', ')}); pass the directory of the job to restore`,
      );
    }
  }
  return { ...(await loadCheckpoint(path)), searched: false, skipped: [] };
}

async function newestIn(jobDir: string): Promise<ResolvedRestorePath> {
  const latest = await findLatestCompleteCheckpoint(jobDir);
  if (latest === undefined) {
    const problems = (await listCheckpointDirs(jobDir)).map((c) => basename(c.dir)).join(', ');
    throw new Error(`${jobDir} holds no complete checkpoint (${problems} are partial or corrupt)`);
  }
  return { ...latest, searched: true };
}

/** Subdirectories named like a job id that hold chk-* directories, by name. */
async function jobDirectoriesIn(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR') return [];
    throw e;
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.isDirectory() && /^[0-9a-f]{32}$/.test(e.name) && (await listCheckpointDirs(join(dir, e.name))).length > 0) out.push(join(dir, e.name));
  }
  return out;
}

/** Reading checkpoints and savepoints of the local file system. */
export const fileSystemCheckpointReader: CheckpointReader = {
  loadCheckpoint,
  resolveRestorePath,
  readStateFile,
  copyStatePayload,
};
