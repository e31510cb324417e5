/**
 * Paths and names of the file-system checkpoint storage: local paths from paths or file:// URIs,
 * handles resolved under their root (never outside it), and the simple names files, jobs and
 * checkpoints must have.
 */
import { uriScheme } from '../../core/location.ts';
import type { CheckpointId } from '../../core/ids.ts';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StateFileHandle } from '../checkpoint-types.ts';
import { errorMessage } from './file-system-helpers.ts';

/** Name of the file whose presence marks a checkpoint or savepoint directory as complete. */
export const METADATA_FILE_NAME = '_metadata';
/** Leaves room for the temporary name's prefix and suffix within the usual 255-byte limit. */
const MAX_NAME_BYTES = 200;

/**
 * A local absolute path from a path or file:// URI. Other schemes are refused: only local (or
 * locally mounted) file systems are supported. Single-letter schemes are left alone so that
 * Windows drive letters read as paths.
 */
export function toLocalPath(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`Invalid ${what}: the path is empty`);
  const scheme = uriScheme(value);
  if (scheme === undefined) return resolve(value);
  if (scheme.toLowerCase() !== 'file') {
    throw new Error(`Invalid ${what} '${value}': unsupported scheme '${scheme}', only local paths and file:// URIs are supported`);
  }
  try {
    return resolve(fileURLToPath(value));
  } catch (e) {
    throw new Error(`Invalid ${what} '${value}': not a valid file URI (${errorMessage(e)})`, { cause: e });
  }
}

/** The absolute path of a handle under `root`; refuses paths that would leave it. */
export function resolveHandle(root: string, handle: StateFileHandle): string {
  if (!isSafeRelativePath(handle.path)) {
    throw new Error(`State file path ${JSON.stringify(handle.path)} is not a relative path inside the checkpoint`);
  }
  return join(root, ...handle.path.split('/'));
}

/** Relative, '/'-separated, no empty, '.' or '..' segments, no backslashes or NULs, no drive letter. */
export function isSafeRelativePath(path: string): boolean {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\\') || path.includes('\0')) return false;
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

export function checkFileName(name: string): void {
  const problem =
    typeof name !== 'string' || name.length === 0
      ? 'it is empty'
      : name.includes('/') || name.includes('\\')
        ? 'it contains a path separator'
        : name.includes('..')
          ? "it contains '..'"
          : name.includes('\0')
            ? 'it contains a NUL character'
            : name === '.' || name === METADATA_FILE_NAME
              ? 'it is reserved'
              : Buffer.byteLength(name) > MAX_NAME_BYTES
                ? `it is longer than ${MAX_NAME_BYTES} bytes`
                : undefined;
  if (problem !== undefined) throw new Error(`Invalid state file name ${JSON.stringify(name)}: ${problem}; a simple file name is required`);
}

export function checkJobId(jobId: string): void {
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.includes('/') || jobId.includes('\\') || jobId.includes('\0') || jobId === '.' || jobId === '..') {
    throw new Error(`Invalid job id ${JSON.stringify(jobId)}: it names a directory and must be a simple file name`);
  }
}

export function checkCheckpointId(checkpointId: CheckpointId): void {
  if (!Number.isSafeInteger(checkpointId) || checkpointId < 1) {
    throw new Error(`Invalid checkpoint id ${String(checkpointId)}: checkpoint ids are integers starting at 1`);
  }
}
