/**
 * Checkpoint files of one operator subtask's keyed state and keyed timers.
 *
 * Writing runs on the thread that processes records, so it is time-sliced: entries are encoded
 * (state-codec.ts) straight into the file's buffer in small frames, and once a slice of `sliceMs`
 * is spent the writer yields to the event loop before going on, so records keep flowing while a
 * large state is written. Nothing the writer does between two yields grows with the state: the
 * SHA-256 of a file is computed frame by frame as the frames are written (and handed to the sink
 * with the payload, so the sink need not hash the whole file at once), and file buffers are
 * reused once the sink is done with them, so writing makes almost no garbage. The snapshot keeps
 * the state as it was when it was taken (copy-on-write), so the live state may change between
 * slices. Key groups are written in ascending order and the snapshot is told each one that is
 * done, so it stops keeping their old values; the old values it saves for key groups not yet
 * reached are taken as they come and written at once (KeyedStateSnapshot.takeSaved). So what a
 * snapshot holds beside the live state stays small however long the write takes: no memory grows
 * with the state, which would otherwise make the collector run full collections of a large heap
 * while the checkpoint is written. Files are cut at frame boundaries once they reach `fileBytes`,
 * and one file may be written by the sink while the next is serialised, so memory stays bounded
 * by about three files whatever the size of the state.
 *
 * Reading keeps the key groups of one range, so files written by subtasks of one parallelism can
 * be split among (or merged into) the subtasks of another. The next files are read (and verified
 * by the storage) while the current one is decoded.
 *
 * The format is described in keyed-state-files/keyed-state-file-format.ts; writing is in
 * keyed-state-writer.ts (file buffers in keyed-state-file-output.ts), reading in
 * keyed-state-reader.ts with one frame parser per format version.
 */
export type { RestoredKeyedState, StateFileSink } from '../state-backend.ts';
export {
  DEFAULT_KEYED_STATE_FILE_BYTES,
  DEFAULT_KEYED_STATE_SLICE_MS,
  writeKeyedState,
  type KeyedStateWriteOptions,
  type KeyedStateWriteResult,
} from './keyed-state-files/keyed-state-writer.ts';
export { readKeyedState } from './keyed-state-files/keyed-state-reader.ts';
