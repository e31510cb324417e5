/**
 * FileSource: records from files (Flink's FileSource with a StreamFormat), bounded by default or
 * continuously monitoring directories for new files.
 *
 * Bounded: `createSplits` lists the files once (a file, or every visible file under a directory,
 * in name order) and makes one split per file, or, for splittable formats and files larger than
 * the split size, one per byte range. A split holds its read position: the byte offset of the
 * next record and that record's line number. weir assigns splits statically and every worker
 * calls `createSplits` itself, so the files must be in place (and unchanged) before the job starts.
 *
 * Continuous (`monitorContinuously`): `createSplits(p)` cannot know files that do not exist yet
 * and must be the same wherever it runs, so it does not list anything: it makes p monitoring
 * splits, "owner i of p". The reader holding a monitoring split lists the directories every
 * interval and takes the files whose path hashes to its owner number; the split remembers every
 * file it read to the end and the position in the one it is reading. A restore hands the splits
 * back with that state, so no file is read twice and the interrupted one resumes at its offset.
 * Rescaling deals the p splits to the new readers: ownership stays with the splits, so discovery
 * keeps its p shares (a restore at a higher parallelism leaves the extra readers idle).
 *
 * Files are taken as complete once visible: write them elsewhere, or under a hidden name (starting
 * with '.' or '_'), and rename them into place. Hidden files and directories are passed over.
 */
import { readdirSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Boundedness, InputStatus, ReaderOutput, Source, SourceReader, SourceReaderContext, SourceSplit } from '../../api/source.ts';
import { LineCursor } from './line-cursor.ts';
import { MalformedRecordError, type StreamFormat } from './stream-format.ts';

/** A file, or a byte range of one, and the read position in it. Plain data. */
export interface FileSourceSplit extends SourceSplit {
  readonly kind: 'file';
  readonly path: string;
  /** Byte offset of the next record; for a byte range not yet started, the range's start (then `line` is null). */
  readonly offset: number;
  /** 1-based line number of the next record, or null when `offset` is a raw range start not yet aligned to a line. */
  readonly line: number | null;
  /** Records starting at or after this byte belong to the next range; null: to the end of the file. */
  readonly end: number | null;
}

/** A share of a continuously monitored set of directories: the files whose path hashes to `owner` of `owners`. Plain data. */
export interface MonitoringSplit extends SourceSplit {
  readonly kind: 'monitor';
  readonly owner: number;
  readonly owners: number;
  /** Files read to the end, sorted. */
  readonly done: readonly string[];
  /** The file being read and the position of its next record. */
  readonly reading: { readonly path: string; readonly offset: number; readonly line: number } | null;
}

export type FileSplit = FileSourceSplit | MonitoringSplit;

/** What happens to a record that its format cannot decode. */
export type MalformedRecordPolicy = 'fail' | 'skip' | ((error: MalformedRecordError) => void);

export interface FileSourceOptions {
  /** Milliseconds between directory listings; undefined: bounded (the files present at start). */
  readonly monitorIntervalMs?: number | undefined;
  /** Files of splittable formats larger than this are read in byte ranges of about this size (default: never). */
  readonly splitSize?: number | undefined;
  /** 'fail' (default): the source fails with the MalformedRecordError; 'skip': passed over; a function: called, then passed over. */
  readonly onMalformed?: MalformedRecordPolicy | undefined;
  /** Text encoding of the files (default utf8). */
  readonly encoding?: BufferEncoding | undefined;
}

/** Records one pollNext emits at most. */
const POLL_BATCH = 64;

export class FileSource<T> implements Source<T, FileSplit> {
  readonly paths: readonly string[];

  constructor(
    readonly format: StreamFormat<T>,
    paths: readonly string[],
    readonly options: FileSourceOptions = {},
  ) {
    if (paths.length === 0) throw new Error('FileSource: give at least one path');
    const interval = options.monitorIntervalMs;
    if (interval !== undefined && !(interval > 0)) throw new Error(`FileSource: the monitoring interval must be positive, got ${interval}`);
    const size = options.splitSize;
    if (size !== undefined && !(size >= 1)) throw new Error(`FileSource: the split size must be at least 1 byte, got ${size}`);
    this.paths = [...new Set(paths.map((p) => resolve(p)))];
  }

  /** A builder for a source reading `paths` (files or directories) with a record format. */
  static forRecordStreamFormat<T>(format: StreamFormat<T>, ...paths: string[]): FileSourceBuilder<T> {
    return new FileSourceBuilder(format, paths);
  }

  getBoundedness(): Boundedness {
    return this.options.monitorIntervalMs === undefined ? 'BOUNDED' : 'CONTINUOUS_UNBOUNDED';
  }

  createSplits(parallelism: number): FileSplit[] {
    for (const p of this.paths) statPath(p);
    if (this.options.monitorIntervalMs !== undefined) {
      return Array.from({ length: parallelism }, (_, owner) => ({ splitId: `monitor-${owner}-of-${parallelism}`, kind: 'monitor', owner, owners: parallelism, done: [], reading: null }));
    }
    const splits: FileSplit[] = [];
    const rangeSize = this.format.splittable && this.format.headerLines === 0 ? (this.options.splitSize ?? Infinity) : Infinity;
    for (const path of listFiles(this.paths)) {
      const size = statSync(path).size;
      if (size <= rangeSize) {
        splits.push({ splitId: path, kind: 'file', path, offset: 0, line: 1, end: null });
        continue;
      }
      for (let start = 0; start < size; start += rangeSize) {
        const end = start + rangeSize >= size ? null : start + rangeSize;
        splits.push({ splitId: `${path}@${start}`, kind: 'file', path, offset: start, line: start === 0 ? 1 : null, end });
      }
    }
    return splits;
  }

  createReader(_context: SourceReaderContext): SourceReader<T, FileSplit> {
    return new FileSourceReader(this);
  }
}

export class FileSourceBuilder<T> {
  #options: FileSourceOptions = {};
  constructor(
    readonly format: StreamFormat<T>,
    readonly paths: readonly string[],
  ) {}

  /** Keeps listing the paths every `intervalMs` and reads new files as they appear: the source becomes unbounded. */
  monitorContinuously(intervalMs: number): this {
    this.#options = { ...this.#options, monitorIntervalMs: intervalMs };
    return this;
  }

  /** Reads only the files present at start and ends (the default). */
  processStaticFileSet(): this {
    this.#options = { ...this.#options, monitorIntervalMs: undefined };
    return this;
  }

  /** Divides files larger than `bytes` into byte ranges read in parallel (bounded sources, splittable formats: text and JSON lines). */
  setSplitSize(bytes: number): this {
    this.#options = { ...this.#options, splitSize: bytes };
    return this;
  }

  /** What to do with a malformed record (default 'fail'). */
  onMalformed(policy: MalformedRecordPolicy): this {
    this.#options = { ...this.#options, onMalformed: policy };
    return this;
  }

  setEncoding(encoding: BufferEncoding): this {
    this.#options = { ...this.#options, encoding };
    return this;
  }

  build(): FileSource<T> {
    return new FileSource(this.format, this.paths, this.#options);
  }
}

function statPath(path: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `FileSource: path ${path} does not exist` : `FileSource: cannot read path ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Whether a file or directory name is hidden from the source: in progress or private by convention. */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_');
}

/** The visible files under the paths (a path naming a file is taken as is), in name order, each once. */
export function listFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (isHiddenName(e.name)) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) out.push(path);
    }
  };
  for (const p of paths) {
    if (statPath(p).isDirectory()) walk(p);
    else out.push(p);
  }
  return [...new Set(out)];
}

/** FNV-1a over the path's UTF-16 code units: the same owner for a file on every worker. */
export function ownerOf(path: string, owners: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % owners;
}

/** A monitoring split while a reader holds it. */
interface Monitor {
  readonly splitId: string;
  readonly owner: number;
  readonly owners: number;
  readonly done: Set<string>;
  /** Discovered, not started, in name order. */
  queue: string[];
  reading: { path: string; offset: number; line: number } | null;
}

/** The open file of the split being read. */
interface OpenFile {
  readonly cursor: LineCursor;
  readonly end: number;
  readonly header: readonly string[];
}

class FileSourceReader<T> implements SourceReader<T, FileSplit> {
  readonly #source: FileSource<T>;
  readonly #format: StreamFormat<T>;
  /** Bounded splits not finished, in order; the first is being read. */
  readonly #files: Mutable<FileSourceSplit>[] = [];
  readonly #monitors: Monitor[] = [];
  #open: OpenFile | undefined;
  /** The monitor whose file is open, when the open file is a monitored one. */
  #openMonitor: Monitor | undefined;
  #noMore = false;
  #nextListing = 0;
  #wake: (() => void) | undefined;
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(source: FileSource<T>) {
    this.#source = source;
    this.#format = source.format;
  }

  addSplits(splits: readonly FileSplit[]): void {
    for (const s of splits) {
      if (s.kind === 'file') this.#files.push({ ...s });
      else this.#monitors.push({ splitId: s.splitId, owner: s.owner, owners: s.owners, done: new Set(s.done), queue: [], reading: s.reading === null ? null : { ...s.reading } });
    }
    this.#nextListing = 0;
    this.#signal();
  }

  notifyNoMoreSplits(): void {
    this.#noMore = true;
    this.#signal();
  }

  pollNext(output: ReaderOutput<T>): InputStatus {
    for (let emitted = 0; emitted < POLL_BATCH; ) {
      const open = this.#current();
      if (open === undefined) break;
      const record = this.#readRecord(open);
      if (record === undefined) {
        this.#finishOpen();
        continue;
      }
      const value = this.#decode(record.text, record, open.header);
      if (value === SKIPPED) continue;
      emitted++;
      output.collect(value);
    }
    if (this.#open !== undefined || this.#files.length > 0 || this.#monitors.some((m) => m.reading !== null || m.queue.length > 0)) return 'MORE_AVAILABLE';
    if (this.#monitors.length === 0 && this.#noMore && this.#source.options.monitorIntervalMs === undefined) return 'END_OF_INPUT';
    return 'NOTHING_AVAILABLE';
  }

  isAvailable(): Promise<void> {
    if (this.#open !== undefined || this.#files.length > 0 || this.#monitors.some((m) => m.reading !== null || m.queue.length > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#wake;
      this.#wake = () => {
        previous?.();
        resolve();
      };
      if (this.#monitors.length > 0 && this.#wakeTimer === undefined) {
        this.#wakeTimer = setTimeout(() => this.#signal(), Math.max(1, this.#nextListing - performance.now()));
      }
    });
  }

  snapshotState(): FileSplit[] {
    const splits: FileSplit[] = this.#files.map((s) => ({ ...s }));
    for (const m of this.#monitors) {
      splits.push({ splitId: m.splitId, kind: 'monitor', owner: m.owner, owners: m.owners, done: [...m.done].sort(), reading: m.reading === null ? null : { ...m.reading } });
    }
    return splits;
  }

  close(): void {
    this.#open?.cursor.close();
    this.#open = undefined;
    if (this.#wakeTimer !== undefined) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
  }

  #signal(): void {
    if (this.#wakeTimer !== undefined) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The open file to read from, opening the next split's or monitored file's when none is. */
  #current(): OpenFile | undefined {
    if (this.#open !== undefined) return this.#open;
    const split = this.#files[0];
    if (split !== undefined) {
      const cursor = split.line === null ? LineCursor.alignedAt(split.path, split.offset, this.#encoding) : new LineCursor(split.path, split.offset, split.line, this.#encoding);
      this.#openMonitor = undefined;
      this.#open = { cursor, end: split.end ?? Infinity, header: this.#header(cursor) };
      return this.#open;
    }
    if (this.#monitors.length === 0) return undefined;
    let monitor = this.#monitors.find((m) => m.reading !== null || m.queue.length > 0);
    if (monitor === undefined && performance.now() >= this.#nextListing) {
      this.#discover();
      monitor = this.#monitors.find((m) => m.queue.length > 0);
    }
    if (monitor === undefined) return undefined;
    if (monitor.reading === null) monitor.reading = { path: monitor.queue.shift()!, offset: 0, line: 1 };
    const cursor = new LineCursor(monitor.reading.path, monitor.reading.offset, monitor.reading.line, this.#encoding);
    this.#openMonitor = monitor;
    this.#open = { cursor, end: Infinity, header: this.#header(cursor) };
    return this.#open;
  }

  get #encoding(): BufferEncoding {
    return this.#source.options.encoding ?? 'utf8';
  }

  /** The format's header lines: read at the start of the file (moving the cursor past them), or read again for a resumed file. */
  #header(cursor: LineCursor): readonly string[] {
    const n = this.#format.headerLines;
    if (n === 0) return [];
    const from = cursor.offset === 0 ? cursor : new LineCursor(cursor.path, 0, 1, this.#encoding);
    const header: string[] = [];
    try {
      for (let i = 0; i < n; i++) header.push(from.next()?.text ?? '');
    } finally {
      if (from !== cursor) from.close();
    }
    this.#advance(cursor);
    return header;
  }

  /** Lists the monitored paths and queues each monitor's new files. */
  #discover(): void {
    this.#nextListing = performance.now() + this.#source.options.monitorIntervalMs!;
    const files = listFiles(this.#source.paths);
    for (const m of this.#monitors) {
      const queued = new Set(m.queue);
      for (const f of files) {
        if (ownerOf(f, m.owners) === m.owner && !m.done.has(f) && m.reading?.path !== f && !queued.has(f)) m.queue.push(f);
      }
    }
  }

  /** The next record of the open file (joining lines while the format says it continues), or undefined at the split's end. */
  #readRecord(open: OpenFile): { text: string; path: string; offset: number; line: number } | undefined {
    for (;;) {
      if (open.cursor.offset >= open.end) return undefined;
      const first = open.cursor.next();
      if (first === undefined) return undefined;
      if (this.#format.isBlank(first.text)) {
        this.#advance(open.cursor);
        continue;
      }
      let text = first.text;
      if (this.#format.isComplete !== undefined) {
        while (!this.#format.isComplete(text)) {
          const more = open.cursor.next();
          if (more === undefined) break; // the format's decode reports the unfinished record
          text += `\n${more.text}`;
        }
      }
      // The position moves past the record before it is emitted: a snapshot between two polls agrees with the output.
      this.#advance(open.cursor);
      return { text, path: open.cursor.path, offset: first.offset, line: first.line };
    }
  }

  /** Records the cursor's position in the split it reads. */
  #advance(cursor: LineCursor): void {
    if (this.#openMonitor !== undefined) {
      this.#openMonitor.reading = { path: cursor.path, offset: cursor.offset, line: cursor.line };
      return;
    }
    const split = this.#files[0];
    if (split !== undefined) {
      split.offset = cursor.offset;
      split.line = cursor.line;
    }
  }

  #finishOpen(): void {
    const open = this.#open!;
    open.cursor.close();
    this.#open = undefined;
    const monitor = this.#openMonitor;
    this.#openMonitor = undefined;
    if (monitor !== undefined) {
      monitor.done.add(open.cursor.path);
      monitor.reading = null;
    } else {
      this.#files.shift();
    }
  }

  #decode(text: string, position: { path: string; offset: number; line: number }, header: readonly string[]): T | typeof SKIPPED {
    try {
      return this.#format.decode(text, { path: position.path, offset: position.offset, line: position.line, header });
    } catch (e) {
      const error = new MalformedRecordError(this.#format.kind, position, text.slice(0, 200), { cause: e });
      const policy = this.#source.options.onMalformed ?? 'fail';
      if (policy === 'fail') throw error;
      if (policy !== 'skip') policy(error);
      return SKIPPED;
    }
  }
}

const SKIPPED: unique symbol = Symbol('skipped');

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
