import { createHash, type Hash } from 'node:crypto';
import type { StateKind } from '../../../api/state.ts';
import { withPayloadDigest } from '../../../core/payload-digest.ts';
import type { KeyedSnapshotWriteResult as KeyedStateWriteResult, StateFileSink } from '../../state-backend.ts';
import { ByteWriter, writeValue } from '../../state-codec.ts';
import type { StateFileHandle } from '../../state-file.ts';
import { FORMAT_VERSION, FRAME_END, FRAME_STATE, HEADER_BYTES, KIND_CODES, LENGTH_BYTES, MAGIC, MAX_FRAME_BYTES } from './keyed-state-file-format.ts';

/** A file's buffer is allocated at its target size, up to this; beyond, it grows by doubling. */
const MAX_INITIAL_FILE_BUFFER = 64 * 1024 * 1024;
/** Room beyond the target size for the frame that crosses it and the end frame. */
const FILE_BUFFER_SLACK = 256 * 1024;
/** File buffers kept between writes, so that a checkpoint does not allocate (and make the collector account for) new ones. */
const SPARE_FILE_BUFFERS = 3;
const spareFileBuffers: Buffer[] = [];

/**
 * The files being written: the current file's buffer, its running SHA-256, and the writes handed
 * to the sink. At most one write is in flight while the next file is serialised (two for a
 * moment, when a file is cut while the previous one is still being written). A buffer comes back
 * for the next file once its write has settled.
 */
export class FileOutput {
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
