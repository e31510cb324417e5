/**
 * The change log of a RocksDB keyed backend (Flink's changelog state backend, FLIP-158): with
 * `state.backend.changelog.enabled`, most checkpoints upload what was written to RocksDB since
 * the last one instead of new SST files, and the SST files are uploaded only now and then (a
 * materialization, every `state.backend.changelog.periodic-materialize.interval`).
 *
 * Why: an incremental checkpoint flushes the memtable, and every few flushes RocksDB compacts
 * level 0 into level 1, rewriting files whose entries did not change; those are new files, and
 * are uploaded again. With updates spread over the key space that costs about S / 4 per
 * checkpoint for state S however little changed (docs/rocksdb.md). The log costs about the bytes
 * that changed.
 *
 * What is logged: every put, delete and range deletion the backend posts to RocksDB (store
 * writes are the one path by which state reaches RocksDB: evictions, a snapshot's entries and the
 * old values saved for it, map clears), in the order they were posted, which is the order
 * RocksDB applies them. A snapshot is established at one point of that order, after its own
 * entries and before any later write (rocksdb-snapshot.ts, the write gate): there the open
 * segment is closed (cut), so the segments up to a snapshot's cut hold exactly the writes before
 * its barrier.
 *
 * A checkpoint is then: the SST files of the last completed materialization (its base), plus
 * every segment after the base's cut up to the checkpoint's own. A restore opens the base and
 * replays the segments in order (only the key groups it restores, when rescaling). Segments of
 * completed checkpoints are listed again rather than uploaded again, as SST files are; a
 * segment stays on local disk until a completed materialization covers it.
 *
 * Segment file (local and uploaded, the storage adds its sha256): the 8 bytes `WEIRCLG1`, then
 * records: a tag byte (0 put, 1 delete, 2 range deletion), then u32-length-prefixed byte strings
 * (key and value; key; start and end).
 */
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { monotonicClock } from '../../core/time.ts';
import { ByteWriter } from '../state-codec.ts';

const MAGIC = Buffer.from('WEIRCLG1', 'latin1');
const PUT = 0;
const DELETE = 1;
const RANGE = 2;
/** Bytes of the open segment kept in memory before they are appended to its file. */
const SPILL_BYTES = 1 << 20;

/** One closed segment on local disk. */
export interface LogSegment {
  /** Its place in the log: segments after a cut have larger numbers. */
  readonly seq: number;
  readonly path: string;
  readonly size: number;
}

/** What a segment's records are applied to when it is replayed. */
export interface LogTarget {
  put(key: Uint8Array, value: Uint8Array): void;
  delete(key: Uint8Array): void;
  deleteRange(start: Uint8Array, end: Uint8Array): void;
}

export class ChangeLog {
  /** Where the closed segments are kept. */
  readonly dir: string;
  /** Off until the first cut: writes before it are never needed (the first checkpoint materializes). */
  #active = false;
  /** The open segment's number. */
  #seq = 0;
  #buf = new ByteWriter(Buffer.allocUnsafeSlow(64 * 1024));
  /** The open segment's file, once some of it was spilled. */
  #fd: number | undefined;
  #openSize = 0;
  #closed: LogSegment[] = [];
  /** Writers reading closed segments (hold): segments dropped meanwhile are deleted after them. */
  #holds = 0;
  #doomed: string[] = [];

  constructor(dir: string) {
    this.dir = dir;
  }

  get active(): boolean {
    return this.#active;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.#record(PUT, key, value);
  }

  delete(key: Uint8Array): void {
    this.#record(DELETE, key, undefined);
  }

  deleteRange(start: Uint8Array, end: Uint8Array): void {
    this.#record(RANGE, start, end);
  }

  /** Appends a record: its tag, then each byte string with its u32 length. */
  #record(tag: number, first: Uint8Array, second: Uint8Array | undefined): void {
    const b = this.#buf;
    b.u8(tag);
    b.u32(first.byteLength);
    b.append(first, 0, first.byteLength);
    if (second !== undefined) {
      b.u32(second.byteLength);
      b.append(second, 0, second.byteLength);
    }
    if (b.pos >= SPILL_BYTES) this.#spill();
  }

  /**
   * Closes the open segment: answers the cut, a number such that the segments up to it hold
   * every write logged before this call. The first cut starts the log (and answers 0).
   */
  cut(): number {
    if (!this.#active) {
      this.#active = true;
      this.#buf.pos = 0;
      return this.#seq++;
    }
    const seq = this.#seq;
    if (this.#buf.pos > 0 || this.#fd !== undefined) {
      this.#spill();
      closeSync(this.#fd!);
      this.#fd = undefined;
      this.#closed.push({ seq, path: this.#path(seq), size: this.#openSize });
      this.#openSize = 0;
    }
    this.#seq++;
    return seq;
  }

  /** The closed segments after cut `after` up to cut `upto` (empty ones have none), in order. */
  segments(after: number, upto: number): readonly LogSegment[] {
    return this.#closed.filter((s) => s.seq > after && s.seq <= upto);
  }

  /**
   * Deletes the segments up to cut `cut` (a completed materialization holds their writes); while
   * a writer holds the log, only once the last hold is released.
   */
  dropThrough(cut: number): void {
    const keep: LogSegment[] = [];
    for (const s of this.#closed) {
      if (s.seq > cut) keep.push(s);
      else if (this.#holds > 0) this.#doomed.push(s.path);
      else rmSync(s.path, { force: true });
    }
    this.#closed = keep;
  }

  /**
   * Keeps the closed segments' files until the answer is called: a checkpoint uploading segments
   * holds the log, so that a materialization completing meanwhile (with concurrent checkpoints)
   * does not delete a file it is about to read.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds > 0) return;
      for (const path of this.#doomed) rmSync(path, { force: true });
      this.#doomed = [];
    };
  }

  /** Forgets everything and stops logging until the next cut (the instance was replaced by a restore). */
  reset(): void {
    this.close();
    this.#active = false;
  }

  /** Deletes every segment. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#openSize = 0;
    this.#buf.pos = 0;
    this.#closed = [];
    this.#doomed = [];
    rmSync(this.dir, { recursive: true, force: true });
  }

  #path(seq: number): string {
    return join(this.dir, `seg-${seq}.log`);
  }

  #spill(): void {
    if (this.#fd === undefined) {
      mkdirSync(this.dir, { recursive: true });
      this.#fd = openSync(this.#path(this.#seq), 'w');
      writeSync(this.#fd, MAGIC);
      this.#openSize = MAGIC.byteLength;
    }
    const b = this.#buf;
    let at = 0;
    while (at < b.pos) at += writeSync(this.#fd, b.bytes, at, b.pos - at);
    this.#openSize += b.pos;
    b.pos = 0;
  }
}

/**
 * Applies a segment's records to `target` in order. `where` names the file in errors: a segment
 * that is not one, or is cut short, is refused before anything of what follows is applied.
 */
export function replaySegment(bytes: Uint8Array, where: string, target: LogTarget): void {
  checkMagic(bytes, bytes.byteLength, where);
  const at = applyRecords(bytes, MAGIC.byteLength, bytes.byteLength, target, where);
  if (at < bytes.byteLength) throw truncated(where, at);
}

/** Bytes of a segment file read per slice when it is replayed from a local file. */
const REPLAY_SLICE = 4 << 20;

/**
 * As replaySegment, for a segment in the local file `path`, read a slice at a time into one
 * buffer, so that replaying needs memory for a slice (or the largest record), not the segment.
 * The records `target` was given point into that buffer: `target.flush()` must make it let go of
 * them (write them down, or copy them); it is called before the buffer is overwritten.
 */
export async function replaySegmentFile(path: string, where: string, target: LogTarget & { flush(): void }): Promise<void> {
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(REPLAY_SLICE);
    /** buf[start, end) holds bytes read and not applied yet. */
    let start = 0;
    let end = 0;
    let offset = 0;
    let first = true;
    for (;;) {
      if (end === buf.byteLength) {
        // Make room: move what is left to the front, or grow for a record larger than the buffer.
        target.flush();
        if (start === 0) {
          const bigger = Buffer.allocUnsafe(buf.byteLength * 2);
          buf.copy(bigger, 0, 0, end);
          buf = bigger;
        } else {
          buf.copy(buf, 0, start, end);
          end -= start;
          start = 0;
        }
      }
      const { bytesRead } = await fh.read(buf, end, buf.byteLength - end, null);
      if (bytesRead === 0) break;
      end += bytesRead;
      if (first) {
        if (end < MAGIC.byteLength) continue;
        checkMagic(buf, end, where);
        start = MAGIC.byteLength;
        first = false;
      }
      const next = applyRecords(buf, start, end, target, where);
      offset += next - start;
      start = next;
    }
    if (first) checkMagic(buf, end, where);
    if (start < end) throw truncated(where, MAGIC.byteLength + offset);
    target.flush();
  } finally {
    await fh.close();
  }
}

function checkMagic(bytes: Uint8Array, length: number, where: string): void {
  if (length < MAGIC.byteLength || !MAGIC.equals(bytes.subarray(0, MAGIC.byteLength))) {
    throw new Error(`${where} is not a RocksDB change log segment (it does not start with ${MAGIC.toString('latin1')})`);
  }
}

function truncated(where: string, at: number): Error {
  return new Error(`${where}: corrupt RocksDB change log segment: cut short in the record at byte ${at}`);
}

/**
 * Applies the whole records in bytes[from, end) to `target`; answers where the first record that
 * is not whole starts (`end` when all were). An unknown tag is an error naming the file and byte.
 */
function applyRecords(bytes: Uint8Array, from: number, end: number, target: LogTarget, where: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = from;
  /** The byte string at `at` (u32 length, then the bytes): its end, or -1 when not all there. */
  const stringEnd = (at: number): number => (at + 4 > end ? -1 : at + 4 + view.getUint32(at, true) > end ? -1 : at + 4 + view.getUint32(at, true));
  while (pos < end) {
    const tag = bytes[pos]!;
    if (tag !== PUT && tag !== DELETE && tag !== RANGE) throw new Error(`${where}: corrupt RocksDB change log segment: unknown record tag ${tag} at byte ${pos}`);
    const firstEnd = stringEnd(pos + 1);
    if (firstEnd < 0) return pos;
    const first = bytes.subarray(pos + 5, firstEnd);
    if (tag === DELETE) {
      target.delete(first);
      pos = firstEnd;
      continue;
    }
    const secondEnd = stringEnd(firstEnd);
    if (secondEnd < 0) return pos;
    const second = bytes.subarray(firstEnd + 4, secondEnd);
    if (tag === PUT) target.put(first, second);
    else target.deleteRange(first, second);
    pos = secondEnd;
  }
  return pos;
}

/**
 * A materialization: a checkpoint that uploaded the SST files, which later checkpoints build on.
 * `M`: its metadata as the writer keeps it (rocksdb-incremental.ts).
 */
export interface Materialization<M> {
  readonly checkpointId: number;
  /** The log's cut at its snapshot: its files hold every write up to there. */
  readonly cut: number;
  /** When it was taken (the clock's ms). */
  readonly at: number;
  /** Its metadata (SST files, MANIFEST, CURRENT, OPTIONS); later checkpoints list the same files. */
  readonly meta: M;
}

export interface ChangelogOptions {
  /** Time between materializations (ms); 0: every checkpoint materializes. */
  readonly materializeIntervalMs: number;
  /** Injected for tests; default: the monotonic clock. */
  readonly now?: (() => number) | undefined;
}

/**
 * One keyed backend's change log and which materialization its checkpoints build on: the last
 * one whose checkpoint completed (never a pending or aborted one, whose files may be deleted).
 */
export class ChangelogState<M> {
  readonly log: ChangeLog;
  readonly #o: ChangelogOptions;
  #base: Materialization<M> | undefined;
  readonly #pending = new Map<number, Materialization<M>>();

  constructor(log: ChangeLog, o: ChangelogOptions) {
    this.log = log;
    this.#o = o;
  }

  /** The materialization this checkpoint builds on, or undefined when it must materialize. */
  baseFor(): Materialization<M> | undefined {
    const base = this.#base;
    if (base === undefined) return undefined;
    return this.#now() - base.at >= this.#o.materializeIntervalMs ? undefined : base;
  }

  /** Checkpoint `m.checkpointId` uploaded the SST files; it becomes the base once it completes. */
  materializing(m: Omit<Materialization<M>, 'at'>): void {
    this.#pending.set(m.checkpointId, { ...m, at: this.#now() });
  }

  complete(checkpointId: number): void {
    let newest: Materialization<M> | undefined;
    for (const [id, m] of [...this.#pending]) {
      if (id > checkpointId) continue;
      this.#pending.delete(id);
      if (id === checkpointId) newest = m;
    }
    if (newest === undefined) return;
    this.#base = newest;
    this.log.dropThrough(newest.cut);
  }

  abort(checkpointId: number): void {
    this.#pending.delete(checkpointId);
  }

  /** The instance was replaced (restore): the next checkpoint materializes. */
  reset(): void {
    this.#base = undefined;
    this.#pending.clear();
    this.log.reset();
  }

  #now(): number {
    return (this.#o.now ?? monotonicClock.now)();
  }
}
