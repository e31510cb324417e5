/**
 * Durable, atomic file writes: every file is written under a temporary name, synced, then
 * renamed into place, so a crash never leaves a partial file under its final name.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from './file-system-helpers.ts';

const TEMP_SUFFIX = '.inprogress';

/**
 * Interception points for tests that simulate a crash midway through a write. They observe
 * and may abort; the real file system is always used.
 */
export interface StorageHooks {
  /**
   * Called once a file's content is written and synced under its temporary name, just before
   * the rename that publishes it. Throwing or rejecting aborts the write as a crash at that point
   * would, except that the temporary file is removed.
   */
  beforeRename?(finalPath: string, tempPath: string): void | Promise<void>;
}

/** Temporary name, write, datasync, close, rename; the temporary file is removed on failure. */
export async function writeAtomically(dir: string, name: string, chunks: readonly Uint8Array[], hooks: StorageHooks): Promise<string> {
  const finalPath = join(dir, name);
  const tempPath = join(dir, `.${name}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  let published = false;
  try {
    const fh = await open(tempPath, 'wx');
    try {
      for (const chunk of chunks) await writeFully(fh, chunk);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await hooks.beforeRename?.(finalPath, tempPath);
    await rename(tempPath, finalPath);
    published = true;
  } finally {
    if (!published) await unlink(tempPath).catch(() => undefined);
  }
  return finalPath;
}

async function writeFully(fh: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await fh.write(data, offset, data.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Makes a directory's entries (created or renamed files) durable; a no-op where unsupported. */
export async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Some platforms cannot open or sync directories; there the rename is all we can do.
    const code = errorCode(e);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'ENOTSUP') throw e;
  } finally {
    await fh?.close();
  }
}
