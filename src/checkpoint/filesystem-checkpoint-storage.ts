/**
 * The file-system checkpoint storage (filesystem/), as one module: the job-scoped storage, the
 * savepoint writer, loading and restore-path resolution, and the errors they raise. Code that
 * only needs some storage should depend on checkpoint-storage.ts instead.
 */
export { CorruptCheckpointError } from '../core/errors.ts';
export { withPayloadDigest } from '../core/payload-digest.ts';
export type {
  CheckpointListing,
  LoadedCheckpoint,
  ResolvedRestorePath,
  SavepointWriter,
  SharedStateRegistry,
  StateFileScope,
} from './checkpoint-storage.ts';
export type { StorageHooks } from './filesystem/atomic-write.ts';
export {
  fileSystemCheckpointReader,
  findLatestCompleteCheckpoint,
  loadCheckpoint,
  readStateFile,
  resolveRestorePath,
} from './filesystem/checkpoint-loader.ts';
export { FileSystemCheckpointStorage } from './filesystem/filesystem-checkpoint-storage.ts';
export { createSavepointWriter, writeSavepointStateFile } from './filesystem/savepoint-writer.ts';
export { METADATA_FILE_NAME } from './filesystem/storage-paths.ts';
