/**
 * Reference counts of a job's shared files on the file system: a shared file is deleted once no
 * registered checkpoint references it. Registration is in memory, by the job's checkpoint
 * storage (when a checkpoint's `_metadata` is published); shared files of checkpoints that never
 * completed are removed with the job's directory.
 */
import type { CheckpointId } from '../../core/ids.ts';
import { rm } from 'node:fs/promises';
import type { StateFileHandle } from '../checkpoint-types.ts';
import type { SharedStateRegistry } from '../checkpoint-storage.ts';
import { resolveHandle } from './storage-paths.ts';

/** The folder (relative to the job directory) that holds shared files. */
export const SHARED_FOLDER = 'shared';

/** Whether a handle (relative to the job directory) names a shared file. */
export function isSharedHandle(handle: StateFileHandle): boolean {
  return handle.path.startsWith(`${SHARED_FOLDER}/`);
}

export class FileSystemSharedStateRegistry implements SharedStateRegistry {
  readonly #jobDir: string;
  /** Shared path → the checkpoints referencing it. */
  readonly #references = new Map<string, Set<number>>();
  /** Checkpoint → the shared handles it registered. */
  readonly #byCheckpoint = new Map<number, readonly StateFileHandle[]>();

  constructor(jobDir: string) {
    this.#jobDir = jobDir;
  }

  registerCheckpoint(checkpointId: CheckpointId, files: readonly StateFileHandle[]): void {
    if (this.#byCheckpoint.has(checkpointId)) return;
    const shared = files.filter(isSharedHandle);
    this.#byCheckpoint.set(checkpointId, shared);
    for (const handle of shared) {
      let owners = this.#references.get(handle.path);
      if (owners === undefined) {
        owners = new Set();
        this.#references.set(handle.path, owners);
      }
      owners.add(checkpointId);
    }
  }

  async unregisterCheckpoint(checkpointId: CheckpointId): Promise<readonly string[]> {
    const shared = this.#byCheckpoint.get(checkpointId);
    if (shared === undefined) return [];
    this.#byCheckpoint.delete(checkpointId);
    const released: StateFileHandle[] = [];
    for (const handle of shared) {
      const owners = this.#references.get(handle.path);
      owners?.delete(checkpointId);
      if (owners !== undefined && owners.size === 0) {
        this.#references.delete(handle.path);
        released.push(handle);
      }
    }
    for (const handle of released) await rm(resolveHandle(this.#jobDir, handle), { force: true });
    return released.map((h) => h.path);
  }

  referenceCount(path: string): number {
    return this.#references.get(path)?.size ?? 0;
  }

  /** Forgets every registration (the job's directory is gone). */
  clear(): void {
    this.#references.clear();
    this.#byCheckpoint.clear();
  }
}
