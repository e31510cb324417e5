/**
 * Writing the keyed state files of one operator subtask from a keyed state snapshot.
 *
 * Writing runs on the thread that processes records, so it is time-sliced: entries are encoded
 * (state-codec.ts) straight into the file's buffer in small frames, and once a slice of `sliceMs`
 * is spent the writer yields to the event loop before going on, so records keep flowing while a
 * large state is written. See keyed-state-files.ts for what it keeps bounded and why.
 */
import { monotonicClock, sleep, systemScheduler, yieldToEventLoop } from '../../../core/time.ts';
import type { StateKind } from '../../../api/state.ts';
import type { KeyGroupRange } from '../../../core/key-group.ts';
import type { EncodedEntries, KeyedStateSnapshot } from '../../keyed-state-backend.ts';
import type { KeyedSnapshotWriteResult, StateFileSink } from '../../state-backend.ts';
import { type ByteWriter, writeStored, writeValue } from '../../state-codec.ts';
import { EMPTY_TIMER_SNAPSHOTS, type TimerSnapshotSet } from '../../timer-snapshot.ts';
import { DOMAIN_EVENT, DOMAIN_PROCESSING, FRAME_ENTRIES, FRAME_SCATTERED, FRAME_TIMERS } from './keyed-state-file-format.ts';
import { FileOutput } from './keyed-state-file-output.ts';

export interface KeyedStateWriteOptions {
  readonly snapshot: KeyedStateSnapshot;
  readonly keyGroupRange: KeyGroupRange;
  /** Keyed timers of the operator (already copied synchronously); written with the state. */
  readonly timers?: TimerSnapshotSet<unknown>;
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

/** The files written, their total size and the number of state entries in them. */
export type KeyedStateWriteResult = KeyedSnapshotWriteResult;

/** Default target size of one file. */
export const DEFAULT_KEYED_STATE_FILE_BYTES = 8 * 1024 * 1024;
/**
 * Default longest synchronous slice, ms. Records of a keyed task may wait for two slices (one
 * before the task's turn, one after), so this is a small part of a pause budget of 10 ms.
 */
export const DEFAULT_KEYED_STATE_SLICE_MS = 1;

/** An entries frame is closed once it holds this many entries or bytes; the writer checks its time budget after every frame. */
const MAX_FRAME_ENTRIES = 256;
const MAX_FRAME_PAYLOAD = 32 * 1024;
const TIMERS_PER_FRAME = 256;
/** Empty (state, key group) pairs visited between two looks at the clock. */
const VISITS_PER_CHECK = 64;
/** While file writes are awaited, old values saved meanwhile are taken this often, ms. */
const TAKE_WHILE_WAITING_MS = 5;
const defaultYield = yieldToEventLoop;
const defaultNow = (): number => monotonicClock.now();

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
  const timers: TimerSnapshotSet<unknown> = o.timers ?? EMPTY_TIMER_SNAPSHOTS;
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
      await Promise.race([done, sleep(systemScheduler, TAKE_WHILE_WAITING_MS)]);
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
        const reading = snapshot.prepare?.(state.name, keyGroup);
        if (reading !== undefined) await reading;
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

    // The timers are read one by one from the set copied at the barrier: no object per timer.
    const t = timers.cursor();
    for (let i = 0; i < timers.size; i += TIMERS_PER_FRAME) {
      const batch = Math.min(TIMERS_PER_FRAME, timers.size - i);
      const w = out.open();
      const frame = out.beginFrame(FRAME_TIMERS);
      w.u32(batch);
      for (let j = 0; j < batch; j++) {
        if (!t.next()) throw new Error(`the keyed timers of the snapshot ended after ${i + j} of ${timers.size}`);
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

function describeKey(key: unknown): string {
  try {
    const text = typeof key === 'bigint' ? `${key}n` : JSON.stringify(key, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    return text === undefined ? String(key) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(key);
  }
}
