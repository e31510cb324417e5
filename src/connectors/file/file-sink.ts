/**
 * FileSink: exactly-once row-format files (Flink's FileSink.forRowFormat), as a two-phase Sink.
 *
 * A part file goes through three states:
 *  - in progress: `<bucket>/.<name>.inprogress`, hidden (readers skip names starting with '.'),
 *    appended to by one writer;
 *  - pending: closed (written out and fsynced) when the rolling policy rolls it; at the next
 *    barrier it is handed over as a committable ({ bucket, name });
 *  - finished: the committer renames it to `<bucket>/<name>` once the checkpoint holding the
 *    committable is complete. `<name>` is `<prefix>-<uid>-<subtask>-<counter><suffix>`, where uid
 *    is fresh for each writer instance (so names never repeat across attempts, restores and
 *    subtasks) and the counter is kept in writer state.
 *
 * A part may stay open across checkpoints (DefaultRollingPolicy keeps it open until it is large or
 * old enough): at each barrier the writer writes out and fsyncs its open parts and records each
 * part's valid length in its state. A restore truncates the part to that length, dropping what
 * the failed attempt wrote after the checkpoint (the sources replay those records), and goes on
 * appending to it. A part restored into a bucket that already has an open part (two old subtasks'
 * states on one new subtask) is closed and handed over at the next barrier instead.
 *
 * Visible files therefore only ever hold records of completed checkpoints, each once. Parts of a
 * failed attempt that no checkpoint references stay hidden (never renamed); they are not deleted,
 * since another subtask's restored state may reference them.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type {
  CommitRequest,
  Committer,
  CommitterContext,
  CommittingSinkWriter,
  Sink,
  SinkWriterContext,
  SinkWriterElementContext,
  StatefulSinkWriter,
} from '../../api/sink.ts';
import { DateTimeBucketAssigner, type BucketAssigner, type BucketAssignerContext } from './bucket-assigners.ts';
import { DefaultRollingPolicy, type PartFileInfo, type RollingPolicy } from './rolling-policies.ts';

/** Turns a record into the bytes of its row (Flink's Encoder). */
export interface Encoder<IN> {
  encode(element: IN): string | Uint8Array;
}

/** `String(element)` and a line break, in the given encoding (default utf8). */
export class SimpleStringEncoder<IN = unknown> implements Encoder<IN> {
  constructor(readonly charset: BufferEncoding = 'utf8') {}
  encode(element: IN): Uint8Array {
    return Buffer.from(`${String(element)}\n`, this.charset);
  }
}

/** Part file names: `<partPrefix>-<uid>-<subtask>-<counter><partSuffix>` (defaults 'part' and ''). */
export class OutputFileConfig {
  constructor(
    readonly partPrefix: string = 'part',
    readonly partSuffix: string = '',
  ) {
    for (const [what, v] of [
      ['prefix', partPrefix],
      ['suffix', partSuffix],
    ] as const) {
      if (v.includes('/') || v.includes('\\')) throw new Error(`OutputFileConfig: the part ${what} must not contain a path separator: '${v}'`);
    }
    if (partPrefix === '' || partPrefix.startsWith('.') || partPrefix.startsWith('_')) throw new Error(`OutputFileConfig: the part prefix must be non-empty and not hidden: '${partPrefix}'`);
  }
  static builder(): OutputFileConfigBuilder {
    return new OutputFileConfigBuilder();
  }
}

export class OutputFileConfigBuilder {
  #prefix = 'part';
  #suffix = '';
  withPartPrefix(prefix: string): this {
    this.#prefix = prefix;
    return this;
  }
  withPartSuffix(suffix: string): this {
    this.#suffix = suffix;
    return this;
  }
  build(): OutputFileConfig {
    return new OutputFileConfig(this.#prefix, this.#suffix);
  }
}

/** A pending part: `<bucket>/.<name>.inprogress`, to become `<bucket>/<name>`. */
export interface FileSinkCommittable {
  readonly bucket: string;
  readonly name: string;
}

/** An open part as writer state: truncated to `validLength` on restore. */
export interface InProgressPartState {
  readonly bucket: string;
  readonly name: string;
  readonly validLength: number;
  readonly creationTime: number;
  readonly lastUpdateTime: number;
}

export interface FileSinkWriterState {
  /** The next part counter of the writer. */
  readonly partCounter: number;
  readonly inProgress: readonly InProgressPartState[];
}

export interface FileSinkOptions<IN> {
  readonly bucketAssigner: BucketAssigner<IN>;
  readonly rollingPolicy: RollingPolicy<IN>;
  readonly outputFileConfig: OutputFileConfig;
  /** Milliseconds between processing-time checks of the rolling policy while records arrive (default 60 000). */
  readonly bucketCheckInterval: number;
}

/** The hidden name of a part while it is in progress or pending. */
export function inProgressName(name: string): string {
  return `.${name}.inprogress`;
}

export class FileSink<IN> implements Sink<IN, FileSinkCommittable, FileSinkWriterState> {
  readonly basePath: string;
  constructor(
    basePath: string,
    readonly encoder: Encoder<IN>,
    readonly options: FileSinkOptions<IN>,
  ) {
    this.basePath = resolve(basePath);
  }

  /** A builder of a sink writing rows encoded by `encoder` under `basePath`. */
  static forRowFormat<IN>(basePath: string, encoder: Encoder<IN>): RowFormatBuilder<IN> {
    return new RowFormatBuilder(basePath, encoder);
  }

  createWriter(context: SinkWriterContext<FileSinkWriterState>): FileSinkWriter<IN> {
    return new FileSinkWriter(this, context);
  }

  createCommitter(_context: CommitterContext): Committer<FileSinkCommittable> {
    return new FileCommitter(this.basePath);
  }
}

export class RowFormatBuilder<IN> {
  #bucketAssigner: BucketAssigner<IN> = new DateTimeBucketAssigner<IN>();
  #rollingPolicy: RollingPolicy<IN> = DefaultRollingPolicy.builder().build<IN>();
  #outputFileConfig = new OutputFileConfig();
  #bucketCheckInterval = 60_000;

  constructor(
    readonly basePath: string,
    readonly encoder: Encoder<IN>,
  ) {}

  withBucketAssigner(assigner: BucketAssigner<IN>): this {
    this.#bucketAssigner = assigner;
    return this;
  }
  withRollingPolicy(policy: RollingPolicy<IN>): this {
    this.#rollingPolicy = policy;
    return this;
  }
  withOutputFileConfig(config: OutputFileConfig): this {
    this.#outputFileConfig = config;
    return this;
  }
  withBucketCheckInterval(ms: number): this {
    if (!(ms >= 0)) throw new Error(`FileSink: the bucket check interval must not be negative, got ${ms}`);
    this.#bucketCheckInterval = ms;
    return this;
  }
  build(): FileSink<IN> {
    return new FileSink(this.basePath, this.encoder, {
      bucketAssigner: this.#bucketAssigner,
      rollingPolicy: this.#rollingPolicy,
      outputFileConfig: this.#outputFileConfig,
      bucketCheckInterval: this.#bucketCheckInterval,
    });
  }
}

/** Bytes buffered per part before they are written out. */
const WRITE_BUFFER = 64 * 1024;

class OpenPart implements PartFileInfo {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  constructor(
    readonly bucket: string,
    readonly name: string,
    readonly path: string,
    readonly fd: number,
    /** Bytes in the part: written out plus buffered. */
    public size: number,
    readonly creationTime: number,
    public lastUpdateTime: number,
  ) {}
  getBucketId(): string {
    return this.bucket;
  }
  getCreationTime(): number {
    return this.creationTime;
  }
  getSize(): number {
    return this.size;
  }
  getLastUpdateTime(): number {
    return this.lastUpdateTime;
  }
  append(bytes: Uint8Array, now: number): void {
    this.#chunks.push(bytes);
    this.#buffered += bytes.length;
    this.size += bytes.length;
    this.lastUpdateTime = now;
    if (this.#buffered >= WRITE_BUFFER) this.writeOut();
  }
  /** Writes the buffered bytes to the file, at the end of its valid part. */
  writeOut(): void {
    if (this.#buffered === 0) return;
    const data = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    let position = this.size - this.#buffered;
    for (let off = 0; off < data.length; ) {
      const n = writeSync(this.fd, data, off, data.length - off, position);
      off += n;
      position += n;
    }
    this.#chunks = [];
    this.#buffered = 0;
  }
  /** Written out and on disk. */
  persist(): void {
    this.writeOut();
    fsyncSync(this.fd);
  }
}

export class FileSinkWriter<IN>
  implements CommittingSinkWriter<IN, FileSinkCommittable>, StatefulSinkWriter<IN, FileSinkWriterState>
{
  readonly #sink: FileSink<IN>;
  readonly #context: SinkWriterContext<FileSinkWriterState>;
  readonly #uid = randomUUID();
  readonly #open = new Map<string, OpenPart>();
  #pending: FileSinkCommittable[] = [];
  #partCounter = 0;
  #lastTimeCheck: number;
  #endOfInput = false;

  constructor(sink: FileSink<IN>, context: SinkWriterContext<FileSinkWriterState>) {
    this.#sink = sink;
    this.#context = context;
    this.#lastTimeCheck = context.currentProcessingTime();
    this.#restore(context.getRestoredState());
  }

  #restore(states: readonly FileSinkWriterState[]): void {
    for (const state of states) {
      this.#partCounter = Math.max(this.#partCounter, state.partCounter);
      for (const part of state.inProgress) {
        const path = join(this.#sink.basePath, part.bucket, inProgressName(part.name));
        let fd: number;
        try {
          fd = openSync(path, 'r+');
        } catch (e) {
          throw new Error(`FileSink: the in-progress part file ${path} of the restored checkpoint is missing (${(e as Error).message}); it was committed or removed after that checkpoint`, { cause: e });
        }
        // Bytes the failed attempt wrote after the checkpoint go: the sources replay their records.
        ftruncateSync(fd, part.validLength);
        const open = new OpenPart(part.bucket, part.name, path, fd, part.validLength, part.creationTime, part.lastUpdateTime);
        if (this.#open.has(part.bucket)) this.#roll(open);
        else this.#open.set(part.bucket, open);
      }
    }
  }

  write(element: IN, context: SinkWriterElementContext): void {
    const now = this.#context.currentProcessingTime();
    if (now - this.#lastTimeCheck >= this.#sink.options.bucketCheckInterval) this.#rollOnProcessingTime(now);
    const assignerContext: BucketAssignerContext = { currentProcessingTime: () => now, currentWatermark: () => context.currentWatermark(), timestamp: () => context.timestamp() };
    const bucket = this.#sink.options.bucketAssigner.getBucketId(element, assignerContext);
    let part = this.#open.get(bucket);
    if (part !== undefined && this.#sink.options.rollingPolicy.shouldRollOnEvent(part, element)) {
      this.#open.delete(bucket);
      this.#roll(part);
      part = undefined;
    }
    part ??= this.#openPart(bucket, now);
    const encoded = this.#sink.encoder.encode(element);
    part.append(typeof encoded === 'string' ? Buffer.from(encoded) : encoded, now);
  }

  flush(endOfInput: boolean): void {
    if (endOfInput) this.#endOfInput = true;
    for (const part of this.#open.values()) part.persist();
  }

  prepareCommit(): FileSinkCommittable[] {
    const now = this.#context.currentProcessingTime();
    const policy = this.#sink.options.rollingPolicy;
    for (const [bucket, part] of [...this.#open]) {
      if (this.#endOfInput || policy.shouldRollOnCheckpoint(part) || policy.shouldRollOnProcessingTime(part, now)) {
        this.#open.delete(bucket);
        this.#roll(part);
      }
    }
    this.#lastTimeCheck = now;
    const handed = this.#pending;
    this.#pending = [];
    return handed;
  }

  snapshotState(_checkpointId: number): FileSinkWriterState[] {
    const inProgress = [...this.#open.values()].map((p) => ({ bucket: p.bucket, name: p.name, validLength: p.size, creationTime: p.creationTime, lastUpdateTime: p.lastUpdateTime }));
    return [{ partCounter: this.#partCounter, inProgress }];
  }

  close(): void {
    // Open parts are left as they are: hidden, and either referenced by a checkpoint (a restore
    // resumes them) or abandoned.
    for (const part of this.#open.values()) closeSync(part.fd);
    this.#open.clear();
  }

  #rollOnProcessingTime(now: number): void {
    this.#lastTimeCheck = now;
    for (const [bucket, part] of [...this.#open]) {
      if (this.#sink.options.rollingPolicy.shouldRollOnProcessingTime(part, now)) {
        this.#open.delete(bucket);
        this.#roll(part);
      }
    }
  }

  #openPart(bucket: string, now: number): OpenPart {
    const config = this.#sink.options.outputFileConfig;
    const name = `${config.partPrefix}-${this.#uid}-${this.#context.getSubtaskIndex()}-${this.#partCounter++}${config.partSuffix}`;
    const dir = bucketDir(this.#sink.basePath, bucket);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, inProgressName(name));
    const part = new OpenPart(bucket, name, path, openSync(path, 'wx'), 0, now, now);
    this.#open.set(bucket, part);
    return part;
  }

  /** Closes a part for commit: written out, fsynced, pending until the next barrier hands it over. */
  #roll(part: OpenPart): void {
    part.persist();
    closeSync(part.fd);
    this.#pending.push({ bucket: part.bucket, name: part.name });
  }
}

function bucketDir(basePath: string, bucket: string): string {
  const dir = resolve(basePath, bucket);
  if (dir !== basePath && !dir.startsWith(basePath + '/') && !dir.startsWith(basePath + '\\')) {
    throw new Error(`FileSink: bucket '${bucket}' is outside the base path ${basePath}`);
  }
  return dir;
}

/**
 * Renames pending parts to their visible names. Idempotent: a part whose visible file exists and
 * whose hidden one is gone was committed before (by the attempt that failed after committing).
 */
export class FileCommitter implements Committer<FileSinkCommittable> {
  constructor(readonly basePath: string) {}

  async commit(requests: readonly CommitRequest<FileSinkCommittable>[]): Promise<void> {
    for (const request of requests) {
      const { bucket, name } = request.getCommittable();
      const dir = bucketDir(this.basePath, bucket);
      const pending = join(dir, inProgressName(name));
      const finished = join(dir, name);
      const hasPending = existsSync(pending);
      if (existsSync(finished)) {
        if (hasPending) request.signalFailedWithUnknownReason(new Error(`FileSink: both ${pending} and ${finished} exist; the part cannot be committed safely`));
        else request.signalAlreadyCommitted();
      } else if (hasPending) {
        await rename(pending, finished);
      } else {
        request.signalFailedWithUnknownReason(new Error(`FileSink: pending part file ${pending} is missing and was never committed`));
      }
    }
  }
}
