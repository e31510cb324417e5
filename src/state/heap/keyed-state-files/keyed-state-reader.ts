/**
 * Reading keyed state files back, keeping the key groups of one range, so files written by
 * subtasks of one parallelism can be split among (or merged into) the subtasks of another. The
 * next files are read (and verified by the storage) while the current one is decoded. Both
 * formats are read: 2 (keyed-state-frames-v2.ts) and 1 (keyed-state-frames-v1.ts).
 */
import { monotonicClock, yieldToEventLoop } from '../../../core/time.ts';
import type { KeyGroupRange } from '../../../core/key-group.ts';
import { CorruptCheckpointError } from '../../../core/errors.ts';
import type { RestoredKeyedState } from '../../state-backend.ts';
import type { StateFileHandle } from '../../state-file.ts';
import { FORMAT_VERSION, FORMAT_VERSION_1, HEADER_BYTES, LENGTH_BYTES, MAGIC } from './keyed-state-file-format.ts';
import { frameParserV1 } from './keyed-state-frames-v1.ts';
import { frameParser } from './keyed-state-frames-v2.ts';
import { RestoreCollector } from './restore-collector.ts';

/** Reading yields to the event loop after this long, ms. */
const READ_SLICE_MS = 5;
/** Files being read and verified while one is decoded. */
const READ_AHEAD_FILES = 3;

/**
 * Reads files written by writeKeyedState (possibly from several old subtasks) and keeps what
 * belongs to `range`. `read` returns a verified payload (e.g. storage.readStateFile); the next
 * few files are requested while the current one is decoded. A file that is not a keyed state file, is
 * truncated or malformed gives a CorruptCheckpointError naming the file's path and the problem;
 * errors of `read` that do not name the file are wrapped in one that does. The values returned
 * are freshly decoded and owned by the result.
 */
export async function readKeyedState(
  files: readonly StateFileHandle[],
  read: (h: StateFileHandle) => Promise<Uint8Array>,
  range: KeyGroupRange,
): Promise<RestoredKeyedState> {
  const result = new RestoreCollector(range);
  await readKeyedStateInto(files, read, result);
  return result.build();
}

/**
 * As readKeyedState, into a collector of the caller's: with an EntrySink (restore-collector.ts),
 * entries go to the sink as they are decoded, frame by frame, and the collector keeps only the
 * declared states and the timers. Memory then stays bounded by the files being read and decoded
 * (a few, see READ_AHEAD_FILES) and what the sink holds, whatever the size of the state.
 */
export async function readKeyedStateInto(
  files: readonly StateFileHandle[],
  read: (h: StateFileHandle) => Promise<Uint8Array>,
  result: RestoreCollector,
): Promise<void> {
  const start = (handle: StateFileHandle): Promise<Uint8Array> => {
    const reading = (async () => read(handle))().catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes(handle.path)) throw error;
      throw new Error(`cannot read keyed state file ${handle.path}: ${message}`, { cause: error });
    });
    // Awaited in turn below; a failure of a read whose turn never comes is not unhandled.
    reading.catch(() => {});
    return reading;
  };
  // Reading and verifying (on the thread pool) runs a few files ahead of decoding (on this thread).
  const pending: Promise<Uint8Array>[] = [];
  let requested = 0;
  for (let i = 0; i < files.length; i++) {
    while (requested < files.length && requested < i + READ_AHEAD_FILES) pending.push(start(files[requested++]!));
    const payload = await pending.shift()!;
    await parseFile(files[i]!.path, payload, result);
  }
}

async function parseFile(path: string, payload: Uint8Array, into: RestoreCollector): Promise<void> {
  const corrupt = (problem: string, cause?: unknown): CorruptCheckpointError =>
    new CorruptCheckpointError(path, problem, cause === undefined ? undefined : { cause });
  if (!(payload instanceof Uint8Array)) throw corrupt('the payload is not binary data');
  const length = payload.byteLength;
  if (length < HEADER_BYTES) {
    throw corrupt(`${length} bytes is too short for a keyed state file (the header alone is ${HEADER_BYTES})`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (payload[i] !== MAGIC[i]) throw corrupt('not a keyed state file (bad magic)');
  }
  const view = new DataView(payload.buffer, payload.byteOffset, length);
  const version = view.getUint16(4, true);
  if (version !== FORMAT_VERSION && version !== FORMAT_VERSION_1) throw corrupt(`unsupported keyed state file format version ${version}`);
  const parseFrame = version === FORMAT_VERSION ? frameParser(path, payload, into, corrupt) : frameParserV1(path, payload, into, corrupt);

  const counts = { frames: 0, entries: 0, timers: 0 };
  let offset = HEADER_BYTES;
  let sliceStart = monotonicClock.now();
  for (;;) {
    if (offset === length) throw corrupt(`truncated: the end frame is missing after ${counts.frames} frames (${length} bytes)`);
    if (length - offset < LENGTH_BYTES) {
      throw corrupt(`truncated: ${length - offset} bytes at offset ${offset} are too few for a frame length`);
    }
    const frameLength = view.getUint32(offset, true);
    const start = offset + LENGTH_BYTES;
    if (frameLength === 0) throw corrupt(`frame ${counts.frames} at offset ${offset} is empty`);
    if (frameLength > length - start) {
      throw corrupt(
        `truncated: frame ${counts.frames} at offset ${offset} declares ${frameLength} bytes but only ${length - start} remain`,
      );
    }
    const at = `frame ${counts.frames} at offset ${offset}`;
    offset = start + frameLength;
    if (parseFrame(start, offset, at, counts)) {
      if (offset !== length) throw corrupt(`${length - offset} unexpected bytes after the end frame`);
      return;
    }
    counts.frames++;
    const backpressure = into.sink?.frameDone();
    if (backpressure !== undefined) {
      await backpressure;
      sliceStart = monotonicClock.now();
    } else if (monotonicClock.now() - sliceStart >= READ_SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = monotonicClock.now();
    }
  }
}
