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
 * Payload layout (little-endian):
 *   0  4 bytes  magic "WKSF"
 *   4  u16      format version (2; version 1 files are still read)
 *   6  u16      zero
 *   8  frames, each [u32 length][u8 type][body]
 *
 * Frames (values in state-codec.ts's encoding):
 *   STATE    u8 kind, name                  a state: every file declares all states first
 *   ENTRIES  u32 state, u32 keyGroup, u32 n, n × (key, value)
 *                                           entries of one state (its index among the file's
 *                                           declarations) in one key group; a key group may span
 *                                           several frames (and files). Values are the stored
 *                                           representation, except that a map state's value is an
 *                                           array of [userKey, userValue] pairs
 *   SCATTERED u32 n, n × (u32 state, u32 keyGroup, u32 length, key, value)
 *                                           entries of any states and key groups, each `length`
 *                                           bytes: old values the snapshot saved for key groups
 *                                           the writer had not reached (KeyedStateSnapshot.takeSaved)
 *   TIMERS   u32 n, n × (u8 domain, key, u32 keyGroup, f64 timestamp)
 *                                           keyed timers; domain 0 = event, 1 = processing
 *   END      u32 frames, u32 entries, u32 timers
 *                                           end of file: the number of frames before it and the
 *                                           entries and timers they hold
 * The end frame makes a file truncated at a frame boundary detectable by itself.
 *
 * Version 1 framed MessagePack arrays ([1, name, kind], [2, name, keyGroup, [[key, value], …]],
 * [3, [[domain, key, keyGroup, timestamp], …]], [4, frames, entries, timers]) the same way,
 * without the type byte.
 */

import { createHash, type Hash } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import type { StateKind } from '../../api/state.ts';
import type { EncodedEntries, KeyedStateSnapshot, KeyedStateSnapshotData } from '../keyed-state-backend.ts';
import { canonicalKey, keyGroupRangeContains } from '../../core/key-group.ts';
import type { KeyGroupRange, PrimitiveKey } from '../../core/key-group.ts';
import { ByteReader, ByteWriter, readStored, readValue, writeStored, writeValue } from '../state-codec.ts';
import { decodeValue } from '../../core/record-codec.ts';
import type { RestoredTimer, TimeDomain, TimerSnapshot } from '../timer-snapshot.ts';
import type { StateFileHandle } from '../state-file.ts';
import { CorruptCheckpointError } from '../../core/errors.ts';
import { withPayloadDigest } from '../../core/payload-digest.ts';
import type { RestoredKeyedState, StateFileSink } from '../state-backend.ts';

export type { RestoredKeyedState, StateFileSink } from '../state-backend.ts';

export interface KeyedStateWriteOptions {
  readonly snapshot: KeyedStateSnapshot;
  readonly keyGroupRange: KeyGroupRange;
  /** Keyed timers of the operator (already copied synchronously); written with the state. */
  readonly timers?: readonly TimerSnapshot<unknown>[];
  /** Simple file-name prefix, e.g. `op-3f2a…-1`; files are named `${prefix}-${n}.kstate`, n = 0, 1, … */
  readonly filePrefix: string;
  readonly sink: StateFileSink;
  /** Target size of one file, bytes (default 8 MiB); a file is cut at a frame boundary once it reaches this. */
  readonly fileBytes?: number;
  /** Longest synchronous slice of serialisation before yielding, ms (default 1). */
  readonly sliceMs?: number;
  /** How to yield between slices (default: a `setImmediate` promise). Tests can count calls. */
  readonly yieldControl?: () => Promise<void>;
  /** Clock for the slice budget (default performance.now). */
  readonly now?: () => number;
  /** Aborts the write between slices (e.g. the checkpoint was cancelled): reject with this signal's reason. */
  readonly signal?: AbortSignal;
}

export interface KeyedStateWriteResult {
  readonly files: readonly StateFileHandle[];
  /** Total payload bytes written. */
  readonly bytes: number;
  /** State entries written (one per key and state; timers are not counted). */
  readonly entries: number;
}

/** Default target size of one file. */
export const DEFAULT_KEYED_STATE_FILE_BYTES = 8 * 1024 * 1024;
/**
 * Default longest synchronous slice, ms. Records of a keyed task may wait for two slices (one
 * before the task's turn, one after), so this is a small part of a pause budget of 10 ms.
 */
export const DEFAULT_KEYED_STATE_SLICE_MS = 1;

const MAGIC = [0x57, 0x4b, 0x53, 0x46]; // "WKSF"
const FORMAT_VERSION = 2;
const FORMAT_VERSION_1 = 1;
const HEADER_BYTES = 8;
const LENGTH_BYTES = 4;
const MAX_FRAME_BYTES = 0xffffffff;

const FRAME_STATE = 1;
const FRAME_ENTRIES = 2;
const FRAME_TIMERS = 3;
const FRAME_END = 4;
const FRAME_SCATTERED = 5;

const DOMAIN_EVENT = 0;
const DOMAIN_PROCESSING = 1;

const KIND_CODES: readonly StateKind[] = ['value', 'list', 'map', 'reducing', 'aggregating'];

/** An entries frame is closed once it holds this many entries or bytes; the writer checks its time budget after every frame. */
const MAX_FRAME_ENTRIES = 256;
const MAX_FRAME_PAYLOAD = 32 * 1024;
const TIMERS_PER_FRAME = 256;
/** A file's buffer is allocated at its target size, up to this; beyond, it grows by doubling. */
const MAX_INITIAL_FILE_BUFFER = 64 * 1024 * 1024;
/** Room beyond the target size for the frame that crosses it and the end frame. */
const FILE_BUFFER_SLACK = 256 * 1024;
/** File buffers kept between writes, so that a checkpoint does not allocate (and make the collector account for) new ones. */
const SPARE_FILE_BUFFERS = 3;
const spareFileBuffers: Buffer[] = [];
/** Empty (state, key group) pairs visited between two looks at the clock. */
const VISITS_PER_CHECK = 64;
/** Reading yields to the event loop after this long, ms. */
const READ_SLICE_MS = 5;
/** While file writes are awaited, old values saved meanwhile are taken this often, ms. */
const TAKE_WHILE_WAITING_MS = 5;
/** Files being read and verified while one is decoded. */
const READ_AHEAD_FILES = 3;

const defaultYield = (): Promise<void> => nextTurn();
const defaultNow = (): number => performance.now();

// ---------------------------------------------------------------------------------------------
// Writing.

/**
 * Serialises every state's entries key group by key group (each key group: every state in
 * snapshot order), then the timers, into frames and files. Does NOT release the snapshot (the
 * caller does), but marks the key groups it has written (KeyedStateSnapshot.markWritten), after
 * which they can no longer be read from the snapshot. On failure or abort it waits for the file
 * writes already started to settle, then rejects; files written by then are left to the caller
 * (e.g. discarding the checkpoint).
 */
export async function writeKeyedState(o: KeyedStateWriteOptions): Promise<KeyedStateWriteResult> {
  const { snapshot, keyGroupRange: range, filePrefix, sink, signal } = o;
  const fileBytes = o.fileBytes ?? DEFAULT_KEYED_STATE_FILE_BYTES;
  const sliceMs = o.sliceMs ?? DEFAULT_KEYED_STATE_SLICE_MS;
  const yieldControl = o.yieldControl ?? defaultYield;
  const now = o.now ?? defaultNow;
  const timers = o.timers ?? [];
  checkWriteOptions(range, filePrefix, fileBytes, sliceMs);

  signal?.throwIfAborted();
  const states = snapshot.states.map((s) => ({ name: s.name, kind: s.kind }));
  const out = new FileOutput(filePrefix, sink, fileBytes, states);

  // Old values the snapshot saved for key groups not yet reached, written as they come (in
  // frames of scattered entries) instead of being kept until their key group's turn. The file is
  // cut first when they would not fit in its buffer, so that the buffer is never moved; while
  // writes are awaited (`cut` false) they are only taken when they fit.
  const takeSaved = (cut = true): Promise<void> | undefined => {
    if (snapshot.takeSaved === undefined) return undefined;
    const overflow = out.size > 0 && out.size + (snapshot.savedBytes?.() ?? 0) > out.capacity;
    if (overflow && !cut) return undefined;
    const backpressure = overflow ? out.cut() : undefined;
    let w: ByteWriter | undefined;
    let frame = 0;
    let countAt = 0;
    let count = 0;
    snapshot.takeSaved((state, keyGroup, bytes, start, end) => {
      if (w === undefined) {
        w = out.open();
        frame = out.beginFrame(FRAME_SCATTERED);
        countAt = w.pos;
        w.u32(0);
      }
      w.u32(state);
      w.u32(keyGroup);
      w.u32(end - start);
      w.append(bytes, start, end);
      count++;
    });
    if (w !== undefined) {
      w.view.setUint32(countAt, count, true);
      out.endFrame(frame, count, 0);
    }
    return backpressure;
  };

  // Waiting for file writes can take long (each ends with a sync to disk); old values saved
  // meanwhile are taken now and then, so that they do not pile up in memory.
  const awaitWrites = async (backpressure: Promise<void>): Promise<void> => {
    if (snapshot.takeSaved === undefined) return backpressure;
    let settled = false;
    const done = backpressure.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      await Promise.race([done, delay(TAKE_WHILE_WAITING_MS)]);
      if (!settled && !signal?.aborted) takeSaved(false);
    }
    return backpressure;
  };

  let sliceStart = now();
  const pause = async (): Promise<void> => {
    out.throwIfFailed();
    signal?.throwIfAborted();
    await yieldControl();
    signal?.throwIfAborted();
    out.throwIfFailed();
    sliceStart = now();
    const backpressure = takeSaved();
    if (backpressure !== undefined) await awaitWrites(backpressure);
  };
  const checkBudget = (): Promise<void> | undefined => (now() - sliceStart >= sliceMs ? pause() : undefined);
  // Waiting for a file write resumes in the event loop's I/O phase: serialising on from there would
  // give records no turn between this slice and the next, so a new slice starts with a yield.
  const afterCut = (backpressure: Promise<void> | undefined): Promise<void> | undefined =>
    backpressure === undefined ? checkBudget() : awaitWrites(backpressure).then(pause);

  try {
    let visits = 0;
    for (let keyGroup = range.start; keyGroup <= range.end; keyGroup++) {
      const backpressure = takeSaved();
      if (backpressure !== undefined) await awaitWrites(backpressure);
      for (let index = 0; index < states.length; index++) {
        const state = states[index]!;
        const entries =
          snapshot.encodedEntries?.(state.name, keyGroup) ?? new IteratedEntries(snapshot.entries(state.name, keyGroup), state.kind);
        if (entries.done) {
          if (++visits % VISITS_PER_CHECK === 0) {
            const pending = checkBudget();
            if (pending !== undefined) await pending;
          }
          continue;
        }
        while (!entries.done) {
          const w = out.open();
          const frame = out.beginFrame(FRAME_ENTRIES);
          w.u32(index);
          w.u32(keyGroup);
          const countAt = w.pos;
          w.u32(0);
          let count: number;
          try {
            count = entries.encodeInto(w, MAX_FRAME_PAYLOAD, MAX_FRAME_ENTRIES);
          } catch (error) {
            throw unwritable(`state '${state.name}' (key ${describeKey(entries.key)}, key group ${keyGroup})`, error);
          }
          if (count === 0) {
            out.dropFrame(frame);
            break;
          }
          w.view.setUint32(countAt, count, true);
          out.endFrame(frame, count, 0);
          const pending = out.size >= fileBytes ? afterCut(out.cut()) : checkBudget();
          if (pending !== undefined) await pending;
        }
      }
      snapshot.markWritten?.(keyGroup);
    }

    for (let i = 0; i < timers.length; i += TIMERS_PER_FRAME) {
      const batch = Math.min(TIMERS_PER_FRAME, timers.length - i);
      const w = out.open();
      const frame = out.beginFrame(FRAME_TIMERS);
      w.u32(batch);
      for (let j = i; j < i + batch; j++) {
        const t = timers[j]!;
        w.u8(t.domain === 'event' ? DOMAIN_EVENT : DOMAIN_PROCESSING);
        try {
          writeValue(w, t.key);
        } catch (error) {
          throw unwritable(`a keyed timer (key ${describeKey(t.key)})`, error);
        }
        w.u32(t.keyGroup);
        w.f64(t.timestamp);
      }
      out.endFrame(frame, 0, batch);
      const pending = out.size >= fileBytes ? afterCut(out.cut()) : checkBudget();
      if (pending !== undefined) await pending;
    }

    const backpressure = takeSaved();
    if (backpressure !== undefined) await awaitWrites(backpressure);
    return await out.finish(states.length > 0);
  } catch (error) {
    await out.settle();
    throw error;
  }
}

function checkWriteOptions(range: KeyGroupRange, filePrefix: string, fileBytes: number, sliceMs: number): void {
  if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0) {
    throw new RangeError(`invalid key group range ${String(range.start)}..${String(range.end)}`);
  }
  if (typeof filePrefix !== 'string' || filePrefix.length === 0) {
    throw new TypeError('filePrefix must be a non-empty file name prefix');
  }
  if (typeof fileBytes !== 'number' || !(fileBytes >= 1)) {
    throw new RangeError(`fileBytes must be a positive number, got ${String(fileBytes)}`);
  }
  if (typeof sliceMs !== 'number' || !(sliceMs >= 0)) {
    throw new RangeError(`sliceMs must be a non-negative number, got ${String(sliceMs)}`);
  }
}

function unwritable(what: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`cannot write ${what} into a checkpoint: ${message}`, { cause: error });
}

/** Encodes the entries of a snapshot that offers no encodedEntries, from its entries() iterable. */
class IteratedEntries implements EncodedEntries {
  key: unknown = undefined;
  readonly #iterator: Iterator<readonly [unknown, unknown]>;
  readonly #kind: StateKind;
  #next: IteratorResult<readonly [unknown, unknown]>;

  constructor(entries: Iterable<readonly [unknown, unknown]>, kind: StateKind) {
    this.#iterator = entries[Symbol.iterator]();
    this.#kind = kind;
    this.#next = this.#iterator.next();
  }

  get done(): boolean {
    return this.#next.done === true;
  }

  encodeInto(w: ByteWriter, maxBytes: number, maxEntries: number): number {
    const limit = w.pos + maxBytes;
    let count = 0;
    while (count < maxEntries && w.pos < limit && this.#next.done !== true) {
      const [key, value] = this.#next.value;
      this.key = key;
      writeValue(w, key);
      writeStored(w, this.#kind, value);
      count++;
      this.#next = this.#iterator.next();
    }
    return count;
  }
}

/**
 * The files being written: the current file's buffer, its running SHA-256, and the writes handed
 * to the sink. At most one write is in flight while the next file is serialised (two for a
 * moment, when a file is cut while the previous one is still being written). A buffer comes back
 * for the next file once its write has settled.
 */
class FileOutput {
  readonly #prefix: string;
  readonly #sink: StateFileSink;
  readonly #states: readonly { readonly name: string; readonly kind: StateKind }[];
  readonly #bufferBytes: number;
  readonly #free: Buffer[] = [];
  #writer: ByteWriter | undefined;
  #hash: Hash | undefined;
  #frames = 0;
  #entries = 0;
  #timers = 0;
  #fileCount = 0;
  #totalBytes = 0;
  #totalEntries = 0;
  readonly #handles: StateFileHandle[] = [];
  readonly #inFlight: Promise<unknown>[] = [];
  #failure: { readonly error: unknown } | undefined;

  constructor(prefix: string, sink: StateFileSink, fileBytes: number, states: readonly { readonly name: string; readonly kind: StateKind }[]) {
    this.#prefix = prefix;
    this.#sink = sink;
    this.#states = states;
    this.#bufferBytes = Math.min(fileBytes, MAX_INITIAL_FILE_BUFFER) + FILE_BUFFER_SLACK;
  }

  get size(): number {
    return this.#writer?.pos ?? 0;
  }

  /** What the open file's buffer holds without growing. */
  get capacity(): number {
    return this.#writer?.bytes.length ?? this.#bufferBytes;
  }

  /** The current file's writer; starts a file (header and state declarations) when none is open. */
  open(): ByteWriter {
    if (this.#writer !== undefined) return this.#writer;
    const w = new ByteWriter(this.#free.pop() ?? this.#spare() ?? Buffer.allocUnsafeSlow(this.#bufferBytes));
    this.#writer = w;
    this.#hash = createHash('sha256');
    this.#frames = 0;
    this.#entries = 0;
    this.#timers = 0;
    w.bytes.set(MAGIC, 0);
    w.view.setUint16(4, FORMAT_VERSION, true);
    w.view.setUint16(6, 0, true);
    w.pos = HEADER_BYTES;
    this.#hash.update(w.bytes.subarray(0, HEADER_BYTES));
    for (const state of this.#states) {
      const frame = this.beginFrame(FRAME_STATE);
      w.u8(KIND_CODES.indexOf(state.kind));
      writeValue(w, state.name);
      this.endFrame(frame, 0, 0);
    }
    return w;
  }

  /** Starts a frame of `type` in the open file; returns where it starts. */
  beginFrame(type: number): number {
    const w = this.#writer!;
    const start = w.pos;
    w.reserve(LENGTH_BYTES + 1);
    w.pos += LENGTH_BYTES;
    w.bytes[w.pos++] = type;
    return start;
  }

  /** Completes the frame that starts at `start`: its length, the counts, and the file's hash. */
  endFrame(start: number, entries: number, timers: number, counted = true): void {
    const w = this.#writer!;
    const length = w.pos - start - LENGTH_BYTES;
    if (length > MAX_FRAME_BYTES) throw new RangeError(`cannot write a checkpoint frame of ${length} bytes: frames are limited to 4 GiB`);
    w.view.setUint32(start, length, true);
    this.#hash!.update(w.bytes.subarray(start, w.pos));
    if (counted) this.#frames++;
    this.#entries += entries;
    this.#timers += timers;
    this.#totalEntries += entries;
  }

  /** Forgets a frame begun but left empty. */
  dropFrame(start: number): void {
    this.#writer!.pos = start;
  }

  /** Writes the last file (or, with `declare`, one that only declares the states when none was written), then awaits every write. */
  async finish(declare: boolean): Promise<KeyedStateWriteResult> {
    if (this.#writer === undefined && declare && this.#fileCount === 0) this.open();
    if (this.#writer !== undefined) await this.cut();
    while (this.#inFlight.length > 0) await this.#inFlight.shift();
    this.throwIfFailed();
    this.#keepSpares();
    return { files: this.#handles.slice(), bytes: this.#totalBytes, entries: this.#totalEntries };
  }

  /** Waits for every write already started to succeed or fail. */
  async settle(): Promise<void> {
    this.#writer = undefined;
    this.#hash = undefined;
    await Promise.allSettled(this.#inFlight.splice(0));
    this.#keepSpares();
  }

  #spare(): Buffer | undefined {
    const i = spareFileBuffers.findIndex((b) => b.length === this.#bufferBytes);
    return i < 0 ? undefined : spareFileBuffers.splice(i, 1)[0];
  }

  /** Hands the buffers of settled writes to the next writer. */
  #keepSpares(): void {
    for (const buffer of this.#free.splice(0)) {
      if (spareFileBuffers.length >= SPARE_FILE_BUFFERS) spareFileBuffers.shift();
      spareFileBuffers.push(buffer);
    }
  }

  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** Ends the open file and hands it to the sink; returns a promise to await when too many writes are in flight. */
  cut(): Promise<void> | undefined {
    // Not counted among the frames: the end frame records how many came before it.
    const w = this.#writer!;
    const end = this.beginFrame(FRAME_END);
    w.u32(this.#frames);
    w.u32(this.#entries);
    w.u32(this.#timers);
    this.endFrame(end, 0, 0, false);
    const buffer = w.bytes;
    const payload = withPayloadDigest(buffer.subarray(0, w.pos), this.#hash!.digest());
    this.#writer = undefined;
    this.#hash = undefined;

    const index = this.#fileCount++;
    this.#totalBytes += payload.byteLength;
    const name = `${this.#prefix}-${index}.kstate`;
    const sink = this.#sink;
    const write = (async () => sink(name, payload))().then(
      (handle) => {
        this.#handles[index] = handle;
        if (buffer.length === this.#bufferBytes) this.#free.push(buffer);
      },
      (error: unknown) => {
        this.#failure ??= { error };
        throw error;
      },
    );
    // Failures are reported through throwIfFailed and the awaits on #inFlight, never as unhandled.
    write.catch(() => {});
    this.#inFlight.push(write);
    return this.#inFlight.length > 1 ? this.#drain() : undefined;
  }

  async #drain(): Promise<void> {
    while (this.#inFlight.length > 1) await this.#inFlight.shift();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading.

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
  return result.build();
}

/** Entries of one state in one key group, as keys and values alternating. */
class FlatEntries implements Iterable<readonly [unknown, unknown]> {
  readonly flat: unknown[] = [];

  *[Symbol.iterator](): Iterator<readonly [unknown, unknown]> {
    const flat = this.flat;
    for (let i = 0; i < flat.length; i += 2) yield [flat[i], flat[i + 1]];
  }
}

class RestoreCollector {
  readonly range: KeyGroupRange;
  /** Declared states, in order of first appearance, with the file that first declared them. */
  readonly states = new Map<string, { kind: StateKind; file: string }>();
  /** Entries by state, then key group. */
  readonly entries = new Map<string, Map<number, FlatEntries>>();
  readonly timers: RestoredTimer<unknown>[] = [];

  constructor(range: KeyGroupRange) {
    this.range = range;
  }

  /** Records a state declared by `file`; a different kind than an earlier file declared is corrupt. */
  declare(name: string, kind: StateKind, file: string, corrupt: (problem: string) => Error): void {
    const known = this.states.get(name);
    if (known !== undefined && known.kind !== kind) {
      throw corrupt(`state '${name}' is declared as ${kind} state here but as ${known.kind} state in ${known.file}`);
    }
    if (known === undefined) this.states.set(name, { kind, file });
  }

  /** Where entries of `name` in `keyGroup` go. */
  part(name: string, keyGroup: number): unknown[] {
    let byGroup = this.entries.get(name);
    if (byGroup === undefined) {
      byGroup = new Map();
      this.entries.set(name, byGroup);
    }
    let part = byGroup.get(keyGroup);
    if (part === undefined) {
      part = new FlatEntries();
      byGroup.set(keyGroup, part);
    }
    return part.flat;
  }

  build(): RestoredKeyedState {
    const data: KeyedStateSnapshotData[] = [];
    for (const [name, byGroup] of this.entries) {
      const kind = this.states.get(name)!.kind;
      for (const keyGroup of [...byGroup.keys()].sort((a, b) => a - b)) {
        data.push({ name, kind, keyGroup, entries: byGroup.get(keyGroup)!, owned: true });
      }
    }
    const states = [...this.states].map(([name, s]) => ({ name, kind: s.kind }));
    return { data, timers: this.timers, states };
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
  let sliceStart = performance.now();
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
    if (performance.now() - sliceStart >= READ_SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}

/** Parses the frame body payload[start, end); returns true for the end frame. */
type FrameParser = (start: number, end: number, at: string, counts: { frames: number; entries: number; timers: number }) => boolean;

/** Frames of format 2. */
function frameParser(path: string, payload: Uint8Array, into: RestoreCollector, corrupt: (problem: string, cause?: unknown) => Error): FrameParser {
  const declared: { name: string; kind: StateKind }[] = [];
  const r = new ByteReader(payload);
  const { range } = into;
  return (start, end, at, counts) => {
    r.pos = start + 1;
    r.end = end;
    const type = payload[start]!;
    try {
      switch (type) {
        case FRAME_STATE: {
          const kind = KIND_CODES[r.u8()];
          const name = readValue(r);
          if (kind === undefined || typeof name !== 'string') throw corrupt(`${at} is a malformed state declaration`);
          into.declare(name, kind, path, corrupt);
          declared.push({ name, kind });
          break;
        }
        case FRAME_ENTRIES: {
          const index = r.u32();
          const keyGroup = r.u32();
          const n = r.u32();
          const state = declared[index];
          if (state === undefined) throw corrupt(`${at} holds entries of state ${index}, which the file does not declare`);
          counts.entries += n;
          if (!keyGroupRangeContains(range, keyGroup)) return false;
          r.need(2 * n);
          const flat = into.part(state.name, keyGroup);
          const kind = state.kind;
          for (let i = 0; i < n; i++) {
            const key = readValue(r);
            flat.push(key, readStored(r, kind));
          }
          break;
        }
        case FRAME_SCATTERED: {
          const n = r.u32();
          r.need(14 * n); // every entry takes at least 12 bytes of header and two of key and value
          counts.entries += n;
          const end = r.end;
          for (let i = 0; i < n; i++) {
            const index = r.u32();
            const keyGroup = r.u32();
            const length = r.u32();
            r.need(length);
            const state = declared[index];
            if (state === undefined) throw corrupt(`${at} holds entries of state ${index}, which the file does not declare`);
            const entryEnd = r.pos + length;
            if (!keyGroupRangeContains(range, keyGroup)) {
              r.pos = entryEnd;
              continue;
            }
            r.end = entryEnd;
            const key = readValue(r);
            const value = readStored(r, state.kind);
            if (r.pos !== entryEnd) throw corrupt(`${at}: entry ${i} holds ${entryEnd - r.pos} bytes more than its key and value`);
            r.end = end;
            into.part(state.name, keyGroup).push(key, value);
          }
          break;
        }
        case FRAME_TIMERS: {
          const n = r.u32();
          r.need(n);
          counts.timers += n;
          for (let i = 0; i < n; i++) {
            const domainCode = r.u8();
            const key = readValue(r);
            const keyGroup = r.u32();
            const timestamp = r.f64();
            const timer = restoredTimer([domainCode, key, keyGroup, timestamp]);
            if (timer === undefined) throw corrupt(`${at} holds a malformed timer`);
            if (keyGroupRangeContains(range, timer.keyGroup)) into.timers.push(timer);
          }
          break;
        }
        case FRAME_END: {
          const frames = r.u32();
          const entries = r.u32();
          const timers = r.u32();
          if (r.pos !== r.end) throw corrupt(`${at} is a malformed end frame`);
          if (frames !== counts.frames || entries !== counts.entries || timers !== counts.timers) {
            throw corrupt(
              `the end frame records ${frames} frames, ${entries} entries and ${timers} timers, ` +
                `but the file holds ${counts.frames}, ${counts.entries} and ${counts.timers}`,
            );
          }
          return true;
        }
        default:
          throw corrupt(`${at} has unknown frame type ${type}`);
      }
    } catch (error) {
      if (error instanceof CorruptCheckpointError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw corrupt(`${at} cannot be decoded: ${message}`, error);
    }
    if (r.pos !== r.end) throw corrupt(`${at} holds ${r.end - r.pos} bytes more than its content`);
    return false;
  };
}

const KINDS: ReadonlySet<string> = new Set<StateKind>(KIND_CODES);

/** Frames of format 1 (MessagePack). */
function frameParserV1(path: string, payload: Uint8Array, into: RestoreCollector, corrupt: (problem: string, cause?: unknown) => Error): FrameParser {
  const declared = new Map<string, StateKind>();
  const { range } = into;
  return (start, end, at, counts) => {
    let frame: unknown;
    try {
      frame = decodeValue(payload.subarray(start, end));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw corrupt(`${at} cannot be decoded: ${message}`, error);
    }
    if (!Array.isArray(frame) || typeof frame[0] !== 'number') throw corrupt(`${at} is malformed (not a keyed state frame)`);
    switch (frame[0]) {
      case FRAME_STATE: {
        const [, name, kind] = frame as unknown[];
        if (frame.length !== 3 || typeof name !== 'string' || typeof kind !== 'string' || !KINDS.has(kind)) {
          throw corrupt(`${at} is a malformed state declaration`);
        }
        into.declare(name, kind as StateKind, path, corrupt);
        declared.set(name, kind as StateKind);
        return false;
      }
      case FRAME_ENTRIES: {
        const [, name, keyGroup, rows] = frame as unknown[];
        if (frame.length !== 4 || typeof name !== 'string' || !isKeyGroup(keyGroup) || !Array.isArray(rows)) {
          throw corrupt(`${at} is a malformed entries frame`);
        }
        const kind = declared.get(name);
        if (kind === undefined) throw corrupt(`${at} holds entries of state '${name}', which the file does not declare`);
        counts.entries += rows.length;
        if (!keyGroupRangeContains(range, keyGroup)) return false;
        const flat = into.part(name, keyGroup);
        for (const row of rows) {
          if (!Array.isArray(row) || row.length !== 2) throw corrupt(`${at}: an entry of state '${name}' is not a [key, value] pair`);
          flat.push(row[0] as unknown, restoredValueV1(kind, row[1] as unknown, name, (problem) => corrupt(`${at}: ${problem}`)));
        }
        return false;
      }
      case FRAME_TIMERS: {
        const [, rows] = frame as unknown[];
        if (frame.length !== 2 || !Array.isArray(rows)) throw corrupt(`${at} is a malformed timers frame`);
        counts.timers += rows.length;
        for (const row of rows) {
          const timer = restoredTimer(row);
          if (timer === undefined) throw corrupt(`${at} holds a malformed timer`);
          if (keyGroupRangeContains(range, timer.keyGroup)) into.timers.push(timer);
        }
        return false;
      }
      case FRAME_END: {
        const [, frames, entries, timers] = frame as unknown[];
        if (frame.length !== 4) throw corrupt(`${at} is a malformed end frame`);
        if (frames !== counts.frames || entries !== counts.entries || timers !== counts.timers) {
          throw corrupt(
            `the end frame records ${String(frames)} frames, ${String(entries)} entries and ` +
              `${String(timers)} timers, but the file holds ${counts.frames}, ${counts.entries} and ${counts.timers}`,
          );
        }
        return true;
      }
      default:
        throw corrupt(`${at} has unknown frame type ${String(frame[0])}`);
    }
  };
}

function isKeyGroup(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** A format 1 value as restore() takes it: map states get back their Map of canonical key → [key, value]. */
function restoredValueV1(kind: StateKind, value: unknown, name: string, corrupt: (problem: string) => Error): unknown {
  switch (kind) {
    case 'list':
      if (!Array.isArray(value)) throw corrupt(`a value of list state '${name}' is not an array`);
      return value;
    case 'map': {
      if (!Array.isArray(value)) throw corrupt(`a value of map state '${name}' is not an array of [key, value] pairs`);
      const map = new Map<PrimitiveKey, [unknown, unknown]>();
      for (const pair of value as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw corrupt(`a value of map state '${name}' is not an array of [key, value] pairs`);
        }
        let canonical: PrimitiveKey;
        try {
          canonical = canonicalKey(pair[0], `map state '${name}'`);
        } catch (error) {
          throw corrupt(`map state '${name}' holds an invalid user key (${error instanceof Error ? error.message : String(error)})`);
        }
        map.set(canonical, [pair[0] as unknown, pair[1] as unknown]);
      }
      return map;
    }
    default:
      return value;
  }
}

function restoredTimer(row: unknown): RestoredTimer<unknown> | undefined {
  if (!Array.isArray(row) || row.length !== 4) return undefined;
  const [domainCode, key, keyGroup, timestamp] = row as unknown[];
  const domain: TimeDomain | undefined =
    domainCode === DOMAIN_EVENT ? 'event' : domainCode === DOMAIN_PROCESSING ? 'processing' : undefined;
  if (domain === undefined || !isKeyGroup(keyGroup) || typeof timestamp !== 'number') return undefined;
  let canonical: PrimitiveKey;
  try {
    canonical = canonicalKey(key);
  } catch {
    return undefined;
  }
  return { domain, key, keyGroup, timestamp, canonical };
}

function describeKey(key: unknown): string {
  try {
    const text = typeof key === 'bigint' ? `${key}n` : JSON.stringify(key, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    return text === undefined ? String(key) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(key);
  }
}
