/**
 * Checkpoint files of one operator subtask's keyed state and keyed timers.
 *
 * Writing runs on the thread that processes records, so it is time-sliced: entries are encoded
 * in small frames, and once a slice of `sliceMs` is spent the writer yields to the event loop
 * before going on, so records keep flowing while a large state is written. The snapshot keeps
 * the state as it was when it was taken (copy-on-write), so the live state may change between
 * slices. Files are cut at frame boundaries once they reach `fileBytes`, and one file may be
 * written by the sink while the next is serialised, so memory stays bounded by about two files
 * whatever the size of the state.
 *
 * Reading keeps the key groups of one range, so files written by subtasks of one parallelism can
 * be split among (or merged into) the subtasks of another.
 *
 * Payload layout (little-endian):
 *   0  4 bytes  magic "WKSF"
 *   4  u16      format version (1)
 *   6  u16      zero
 *   8  frames, each [u32 length][encodeValue(frame)]
 *
 * Frames (MessagePack arrays, first element the frame type):
 *   [1, name, kind]                          a state: every file declares all states first
 *   [2, name, keyGroup, [[key, value], …]]   entries of one state in one key group; a key group
 *                                            may span several frames (and files). Values are the
 *                                            stored representation, except that a map state's
 *                                            value is an array of [userKey, userValue] pairs
 *   [3, [[domain, key, keyGroup, timestamp], …]]  keyed timers; domain 0 = event, 1 = processing
 *   [4, frames, entries, timers]             end of file: the number of frames before it and the
 *                                            entries and timers they hold
 * The end frame makes a file truncated at a frame boundary detectable by itself.
 */

import { setImmediate as nextTurn } from 'node:timers/promises';
import type { StateKind } from '../api/state.ts';
import type { KeyedStateSnapshot, KeyedStateSnapshotData } from '../state/keyed-state-backend.ts';
import { canonicalKey, keyGroupRangeContains } from '../state/key-group.ts';
import type { KeyGroupRange, PrimitiveKey } from '../state/key-group.ts';
import { decodeValue, encodeValue } from '../runtime/record-codec.ts';
import type { RestoredTimer, TimeDomain, TimerSnapshot } from '../runtime/timer-service.ts';
import type { StateFileHandle } from './checkpoint-types.ts';
import { CorruptCheckpointError } from './filesystem-checkpoint-storage.ts';

/** Writes one payload as a state file, e.g. (name, payload) => storage.writeStateFile(checkpointId, name, payload). */
export type StateFileSink = (name: string, payload: Uint8Array) => Promise<StateFileHandle>;

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
  /** Longest synchronous slice of serialisation before yielding, ms (default 2). */
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

export interface RestoredKeyedState {
  /** Ready for KeyedStateBackend.restore(); only key groups inside the requested range. */
  readonly data: KeyedStateSnapshotData[];
  /** Only timers whose key group is inside the range, with `canonical` = canonicalKey(key). */
  readonly timers: RestoredTimer<unknown>[];
  /** States that exist in the files (names and kinds), even when none of their entries fall in the range; so a restored backend knows them. */
  readonly states: readonly { readonly name: string; readonly kind: StateKind }[];
}

/** Default target size of one file. */
export const DEFAULT_KEYED_STATE_FILE_BYTES = 8 * 1024 * 1024;
/** Default longest synchronous slice, ms. */
export const DEFAULT_KEYED_STATE_SLICE_MS = 2;

const MAGIC = [0x57, 0x4b, 0x53, 0x46]; // "WKSF"
const FORMAT_VERSION = 1;
const HEADER_BYTES = 8;
const LENGTH_BYTES = 4;
const MAX_FRAME_BYTES = 0xffffffff;

const FRAME_STATE = 1;
const FRAME_ENTRIES = 2;
const FRAME_TIMERS = 3;
const FRAME_END = 4;

const DOMAIN_EVENT = 0;
const DOMAIN_PROCESSING = 1;

/** Entries per frame: the writer checks its time budget after every frame. */
const MAX_FRAME_ENTRIES = 256;
const INITIAL_FRAME_ENTRIES = 128;
/** A frame also closes once its entries hold this many list elements or map pairs. */
const MAX_FRAME_WEIGHT = 1024;
/** Frames much larger than this make the writer put fewer entries in the next ones. */
const TARGET_FRAME_BYTES = 64 * 1024;
const TIMERS_PER_FRAME = 256;
/** A file's buffer is allocated at its target size, up to this; beyond, it grows by doubling. */
const MAX_INITIAL_FILE_BUFFER = 64 * 1024 * 1024;
/** Room beyond the target size for the frame that crosses it and the end frame. */
const FILE_BUFFER_SLACK = 256 * 1024;
/** Empty (state, key group) pairs visited between two looks at the clock. */
const VISITS_PER_CHECK = 64;
/** Reading yields to the event loop after this long, ms. */
const READ_SLICE_MS = 5;

const KINDS: ReadonlySet<string> = new Set<StateKind>(['value', 'list', 'map', 'reducing', 'aggregating']);

const defaultYield = (): Promise<void> => nextTurn();
const defaultNow = (): number => performance.now();

// ---------------------------------------------------------------------------------------------
// Writing.

/**
 * Serialises every state's entries key group by key group (each key group: every state in
 * snapshot order), then the timers, into frames and files. Does NOT release the snapshot (the
 * caller does). On failure or abort it waits for the file writes already started to settle,
 * then rejects; files written by then are left to the caller (e.g. discarding the checkpoint).
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
  const declarations = states.map((s) => encodeFrame([FRAME_STATE, s.name, s.kind], () => `state '${s.name}'`));
  const out = new FileOutput(filePrefix, sink, fileBytes, declarations);

  let sliceStart = now();
  const pause = async (): Promise<void> => {
    out.throwIfFailed();
    signal?.throwIfAborted();
    await yieldControl();
    signal?.throwIfAborted();
    out.throwIfFailed();
    sliceStart = now();
  };
  const checkBudget = (): Promise<void> | undefined => (now() - sliceStart >= sliceMs ? pause() : undefined);

  try {
    let frameEntries = INITIAL_FRAME_ENTRIES;
    let visits = 0;
    for (let keyGroup = range.start; keyGroup <= range.end; keyGroup++) {
      for (const state of states) {
        // Collected eagerly by the snapshot, so it may be consumed across yields.
        const entries = snapshot.entries(state.name, keyGroup);
        let frame: [unknown, unknown][] = [];
        let weight = 0;
        const emit = (): Promise<void> | undefined => {
          const count = frame.length;
          const bytes = encodeEntriesFrame(state.name, keyGroup, frame);
          frame = [];
          weight = 0;
          // Adapt to the size of values, so that one frame stays a small part of a slice.
          if (bytes.byteLength > 2 * TARGET_FRAME_BYTES && frameEntries > 1) {
            frameEntries = Math.max(1, count >> 1);
          } else if (bytes.byteLength < TARGET_FRAME_BYTES / 2 && count >= frameEntries) {
            frameEntries = Math.min(MAX_FRAME_ENTRIES, frameEntries * 2);
          }
          const backpressure = out.append(bytes, count, 0);
          if (backpressure !== undefined) return backpressure.then(checkBudget);
          return checkBudget();
        };
        for (const [key, value] of entries) {
          frame.push([key, state.kind === 'map' ? mapPairs(value, state.name) : value]);
          weight += weightOf(value);
          if (frame.length >= frameEntries || weight >= MAX_FRAME_WEIGHT) {
            const pending = emit();
            if (pending !== undefined) await pending;
          }
        }
        if (frame.length > 0) {
          const pending = emit();
          if (pending !== undefined) await pending;
        } else if (++visits % VISITS_PER_CHECK === 0) {
          const pending = checkBudget();
          if (pending !== undefined) await pending;
        }
      }
    }

    for (let i = 0; i < timers.length; i += TIMERS_PER_FRAME) {
      const batch = timers.slice(i, i + TIMERS_PER_FRAME);
      const rows = batch.map((t) => [t.domain === 'event' ? DOMAIN_EVENT : DOMAIN_PROCESSING, t.key, t.keyGroup, t.timestamp]);
      const bytes = encodeFrame([FRAME_TIMERS, rows], () => 'keyed timers');
      const backpressure = out.append(bytes, 0, batch.length);
      if (backpressure !== undefined) await backpressure;
      const pending = checkBudget();
      if (pending !== undefined) await pending;
    }

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

/** A map state's stored value (canonical key → [userKey, userValue]) as an array of pairs. */
function mapPairs(value: unknown, name: string): unknown[] {
  if (value instanceof Map) return Array.from(value.values() as Iterable<unknown>);
  if (Array.isArray(value)) return value;
  if (value != null && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
    return Array.from(value as Iterable<unknown>);
  }
  throw new TypeError(`cannot write map state '${name}': a stored value is not a Map of [key, value] pairs`);
}

/** Rough cost of encoding a value, relative to a small one. */
function weightOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + value.length;
  if (value instanceof Map || value instanceof Set) return 1 + value.size;
  return 1;
}

function encodeEntriesFrame(name: string, keyGroup: number, entries: [unknown, unknown][]): Uint8Array {
  return encodeFrame([FRAME_ENTRIES, name, keyGroup, entries], () => {
    // Find the entry at fault, to name its key.
    for (const entry of entries) {
      try {
        encodeValue(entry);
      } catch {
        return `state '${name}' (key ${describeKey(entry[0])}, key group ${keyGroup})`;
      }
    }
    return `state '${name}' (key group ${keyGroup})`;
  });
}

function encodeFrame(frame: unknown[], what: () => string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encodeValue(frame);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot write ${what()} into a checkpoint: ${message}`, { cause: error });
  }
  if (bytes.byteLength > MAX_FRAME_BYTES) {
    throw new RangeError(`cannot write ${what()} into a checkpoint: a frame of ${bytes.byteLength} bytes exceeds 4 GiB`);
  }
  return bytes;
}



/**
 * The files being written: the current file's buffer, and the writes handed to the sink. At
 * most one write is in flight while the next file is serialised (two for a moment, when a file
 * is cut while the previous one is still being written).
 *
 * Frames are copied into the file's buffer as they come, so that cutting a file costs no large
 * copy in one slice. The buffer is allocated at about the file's target size up front: its
 * pages are only touched as frames are written into it.
 */
class FileOutput {
  readonly #prefix: string;
  readonly #sink: StateFileSink;
  readonly #fileBytes: number;
  readonly #declarations: readonly Uint8Array[];
  #buffer: Uint8Array | undefined;
  #view: DataView | undefined;
  #size = 0;
  #frames = 0;
  #entries = 0;
  #timers = 0;
  #fileCount = 0;
  #totalBytes = 0;
  #totalEntries = 0;
  readonly #handles: StateFileHandle[] = [];
  readonly #inFlight: Promise<unknown>[] = [];
  #failure: { readonly error: unknown } | undefined;

  constructor(prefix: string, sink: StateFileSink, fileBytes: number, declarations: readonly Uint8Array[]) {
    this.#prefix = prefix;
    this.#sink = sink;
    this.#fileBytes = fileBytes;
    this.#declarations = declarations;
  }

  /** Adds a frame; returns a promise to await when a write must finish before going on. */
  append(frame: Uint8Array, entries: number, timers: number): Promise<void> | undefined {
    if (this.#buffer === undefined) this.#open();
    this.#frame(frame);
    this.#entries += entries;
    this.#timers += timers;
    this.#totalEntries += entries;
    return this.#size >= this.#fileBytes ? this.#cut() : undefined;
  }

  /** Writes the last file (or, with `declare`, one that only declares the states when none was written), then awaits every write. */
  async finish(declare: boolean): Promise<KeyedStateWriteResult> {
    if (this.#buffer === undefined && declare && this.#fileCount === 0) this.#open();
    if (this.#buffer !== undefined) await this.#cut();
    while (this.#inFlight.length > 0) await this.#inFlight.shift();
    this.throwIfFailed();
    return { files: this.#handles.slice(), bytes: this.#totalBytes, entries: this.#totalEntries };
  }

  /** Waits for every write already started to succeed or fail. */
  async settle(): Promise<void> {
    this.#buffer = undefined;
    this.#view = undefined;
    await Promise.allSettled(this.#inFlight.splice(0));
  }

  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  #open(): void {
    this.#size = 0;
    this.#ensure(Math.min(this.#fileBytes, MAX_INITIAL_FILE_BUFFER) + FILE_BUFFER_SLACK);
    const buffer = this.#buffer!;
    buffer.set(MAGIC, 0);
    this.#view!.setUint16(4, FORMAT_VERSION, true);
    this.#size = HEADER_BYTES;
    for (const declaration of this.#declarations) this.#frame(declaration);
  }

  /** Appends `[u32 length][bytes]`; counted as a frame unless it is the end frame. */
  #frame(bytes: Uint8Array, counted = true): void {
    const needed = this.#size + LENGTH_BYTES + bytes.byteLength;
    if (this.#buffer === undefined || needed > this.#buffer.byteLength) this.#ensure(needed);
    this.#view!.setUint32(this.#size, bytes.byteLength, true);
    this.#buffer!.set(bytes, this.#size + LENGTH_BYTES);
    this.#size = needed;
    if (counted) this.#frames++;
  }

  /** Makes the buffer hold at least `capacity` bytes, keeping what it holds. */
  #ensure(capacity: number): void {
    const old = this.#buffer;
    if (old !== undefined && old.byteLength >= capacity) return;
    const grown = new Uint8Array(old === undefined ? capacity : Math.max(capacity, old.byteLength * 2));
    if (old !== undefined) grown.set(old.subarray(0, this.#size));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }

  async #cut(): Promise<void> {
    // Not counted among the frames: the end frame records how many came before it.
    this.#frame(encodeValue([FRAME_END, this.#frames, this.#entries, this.#timers]), false);
    const payload = this.#buffer!.subarray(0, this.#size);
    this.#buffer = undefined;
    this.#view = undefined;
    this.#size = 0;
    this.#frames = 0;
    this.#entries = 0;
    this.#timers = 0;

    const index = this.#fileCount++;
    this.#totalBytes += payload.byteLength;
    const name = `${this.#prefix}-${index}.kstate`;
    const sink = this.#sink;
    const write = (async () => sink(name, payload))().then(
      (handle) => {
        this.#handles[index] = handle;
      },
      (error: unknown) => {
        this.#failure ??= { error };
        throw error;
      },
    );
    // Failures are reported through throwIfFailed and the awaits on #inFlight, never as unhandled.
    write.catch(() => {});
    this.#inFlight.push(write);
    while (this.#inFlight.length > 1) await this.#inFlight.shift();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading.

/**
 * Reads files written by writeKeyedState (possibly from several old subtasks) and keeps what
 * belongs to `range`. `read` returns a verified payload (e.g. storage.readStateFile). A file
 * that is not a keyed state file, is truncated or malformed gives a CorruptCheckpointError
 * naming the file's path and the problem; errors of `read` that do not name the file are
 * wrapped in one that does.
 */
export async function readKeyedState(
  files: readonly StateFileHandle[],
  read: (h: StateFileHandle) => Promise<Uint8Array>,
  range: KeyGroupRange,
): Promise<RestoredKeyedState> {
  const result = new RestoreCollector(range);
  for (const handle of files) {
    let payload: Uint8Array;
    try {
      payload = await read(handle);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes(handle.path)) throw error;
      throw new Error(`cannot read keyed state file ${handle.path}: ${message}`, { cause: error });
    }
    await parseFile(handle.path, payload, result);
  }
  return result.build();
}

class RestoreCollector {
  readonly range: KeyGroupRange;
  /** Declared states, in order of first appearance, with the file that first declared them. */
  readonly states = new Map<string, { kind: StateKind; file: string }>();
  /** Entries by state, then key group. */
  readonly entries = new Map<string, Map<number, (readonly [unknown, unknown])[]>>();
  readonly timers: RestoredTimer<unknown>[] = [];

  constructor(range: KeyGroupRange) {
    this.range = range;
  }

  build(): RestoredKeyedState {
    const data: KeyedStateSnapshotData[] = [];
    for (const [name, byGroup] of this.entries) {
      const kind = this.states.get(name)!.kind;
      for (const keyGroup of [...byGroup.keys()].sort((a, b) => a - b)) {
        data.push({ name, kind, keyGroup, entries: byGroup.get(keyGroup)! });
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
  if (version !== FORMAT_VERSION) throw corrupt(`unsupported keyed state file format version ${version}`);

  const declared = new Map<string, StateKind>();
  const { range } = into;
  let offset = HEADER_BYTES;
  let frames = 0;
  let entries = 0;
  let timers = 0;
  let sliceStart = performance.now();
  for (;;) {
    if (offset === length) throw corrupt(`truncated: the end frame is missing after ${frames} frames (${length} bytes)`);
    if (length - offset < LENGTH_BYTES) {
      throw corrupt(`truncated: ${length - offset} bytes at offset ${offset} are too few for a frame length`);
    }
    const frameLength = view.getUint32(offset, true);
    const start = offset + LENGTH_BYTES;
    if (frameLength === 0) throw corrupt(`frame ${frames} at offset ${offset} is empty`);
    if (frameLength > length - start) {
      throw corrupt(
        `truncated: frame ${frames} at offset ${offset} declares ${frameLength} bytes but only ${length - start} remain`,
      );
    }
    let frame: unknown;
    try {
      frame = decodeValue(payload.subarray(start, start + frameLength));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw corrupt(`frame ${frames} at offset ${offset} cannot be decoded: ${message}`, error);
    }
    offset = start + frameLength;
    const at = `frame ${frames} at offset ${start - LENGTH_BYTES}`;
    if (!Array.isArray(frame) || typeof frame[0] !== 'number') throw corrupt(`${at} is malformed (not a keyed state frame)`);

    switch (frame[0]) {
      case FRAME_STATE: {
        const [, name, kind] = frame as unknown[];
        if (frame.length !== 3 || typeof name !== 'string' || typeof kind !== 'string' || !KINDS.has(kind)) {
          throw corrupt(`${at} is a malformed state declaration`);
        }
        const stateKind = kind as StateKind;
        const known = into.states.get(name);
        if (known !== undefined && known.kind !== stateKind) {
          throw corrupt(`state '${name}' is declared as ${stateKind} state here but as ${known.kind} state in ${known.file}`);
        }
        if (known === undefined) into.states.set(name, { kind: stateKind, file: path });
        declared.set(name, stateKind);
        break;
      }
      case FRAME_ENTRIES: {
        const [, name, keyGroup, rows] = frame as unknown[];
        if (frame.length !== 4 || typeof name !== 'string' || !isKeyGroup(keyGroup) || !Array.isArray(rows)) {
          throw corrupt(`${at} is a malformed entries frame`);
        }
        const kind = declared.get(name);
        if (kind === undefined) throw corrupt(`${at} holds entries of state '${name}', which the file does not declare`);
        entries += rows.length;
        if (!keyGroupRangeContains(range, keyGroup)) break;
        let byGroup = into.entries.get(name);
        if (byGroup === undefined) {
          byGroup = new Map();
          into.entries.set(name, byGroup);
        }
        let list = byGroup.get(keyGroup);
        if (list === undefined) {
          list = [];
          byGroup.set(keyGroup, list);
        }
        for (const row of rows) {
          if (!Array.isArray(row) || row.length !== 2) throw corrupt(`${at}: an entry of state '${name}' is not a [key, value] pair`);
          const value = restoredValue(kind, row[1] as unknown, name, (problem) => corrupt(`${at}: ${problem}`));
          list.push([row[0] as unknown, value]);
        }
        break;
      }
      case FRAME_TIMERS: {
        const [, rows] = frame as unknown[];
        if (frame.length !== 2 || !Array.isArray(rows)) throw corrupt(`${at} is a malformed timers frame`);
        timers += rows.length;
        for (const row of rows) {
          const timer = restoredTimer(row);
          if (timer === undefined) throw corrupt(`${at} holds a malformed timer`);
          if (keyGroupRangeContains(range, timer.keyGroup)) into.timers.push(timer);
        }
        break;
      }
      case FRAME_END: {
        const [, expectedFrames, expectedEntries, expectedTimers] = frame as unknown[];
        if (frame.length !== 4) throw corrupt(`${at} is a malformed end frame`);
        if (expectedFrames !== frames || expectedEntries !== entries || expectedTimers !== timers) {
          throw corrupt(
            `the end frame records ${String(expectedFrames)} frames, ${String(expectedEntries)} entries and ` +
              `${String(expectedTimers)} timers, but the file holds ${frames}, ${entries} and ${timers}`,
          );
        }
        if (offset !== length) throw corrupt(`${length - offset} unexpected bytes after the end frame`);
        return;
      }
      default:
        throw corrupt(`${at} has unknown frame type ${String(frame[0])}`);
    }
    frames++;
    if (performance.now() - sliceStart >= READ_SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}

function isKeyGroup(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** A value as restore() takes it: map states get back their Map of canonical key → [key, value]. */
function restoredValue(kind: StateKind, value: unknown, name: string, corrupt: (problem: string) => Error): unknown {
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
