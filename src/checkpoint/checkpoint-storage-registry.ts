/**
 * Checkpoint storages by the scheme of `state.checkpoints.dir`, as Flink picks a file system by
 * a path's scheme: a plain path or a `file://` URI goes to the file-system storage. A storage for
 * another scheme (an object store, say) is added by writing its module and listing its factory
 * below; the job and its tasks only ever see the CheckpointStorage interface.
 */
import { ConfigError } from '../api/configuration.ts';
import { uriScheme } from '../core/location.ts';
import type { CheckpointReader, CheckpointStorage } from './checkpoint-storage.ts';
import { fileSystemCheckpointReader } from './filesystem/checkpoint-loader.ts';
import { FileSystemCheckpointStorage } from './filesystem/filesystem-checkpoint-storage.ts';

/** Makes the storage of one job under a base location of this factory's schemes. */
export interface CheckpointStorageFactory {
  /** URI schemes served, lowercase; '' is a plain path without a scheme. */
  readonly schemes: readonly string[];
  create(baseLocation: string, jobId: string): CheckpointStorage;
  /** Reads checkpoints and savepoints at locations of these schemes (restores, `weir savepoint -d`). */
  readonly reader: CheckpointReader;
}

export const FILE_SYSTEM_CHECKPOINT_STORAGE: CheckpointStorageFactory = {
  schemes: ['', 'file'],
  create: (baseLocation, jobId) => new FileSystemCheckpointStorage(baseLocation, jobId),
  reader: fileSystemCheckpointReader,
};

/** Every storage, one line each. */
const FACTORIES: readonly CheckpointStorageFactory[] = [FILE_SYSTEM_CHECKPOINT_STORAGE];

/** The scheme of a location: '' for a plain path (single letters are Windows drives, not schemes). */
export function locationScheme(location: string): string {
  return uriScheme(location)?.toLowerCase() ?? '';
}

/**
 * The factory for `baseLocation`'s scheme; a ConfigError naming the setting (`what`), the location
 * and the known schemes otherwise.
 */
export function checkpointStorageFactory(baseLocation: string, what = 'state.checkpoints.dir'): CheckpointStorageFactory {
  const scheme = locationScheme(baseLocation);
  const factory = FACTORIES.find((f) => f.schemes.includes(scheme));
  if (factory === undefined) {
    const known = FACTORIES.flatMap((f) => f.schemes.filter((s) => s !== '').map((s) => `${s}://`));
    throw new ConfigError(
      `${what} '${baseLocation}': no checkpoint storage for the scheme '${scheme}' (known: plain paths, ${known.join(', ')})`,
    );
  }
  return factory;
}

/** The storage of job `jobId` under `baseLocation` (the value of state.checkpoints.dir). */
export function createCheckpointStorage(baseLocation: string, jobId: string): CheckpointStorage {
  return checkpointStorageFactory(baseLocation).create(baseLocation, jobId);
}

/** The reader for a checkpoint or savepoint at `location` (a directory, its `_metadata`, or a URI). */
export function checkpointReaderFor(location: string, what = 'checkpoint or savepoint path'): CheckpointReader {
  return checkpointStorageFactory(location, what).reader;
}
