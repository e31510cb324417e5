/**
 * Reads one file line by line from a byte offset, knowing the offset and the 1-based number of the
 * next unread line at every moment: that pair is the read position a split stores, so a reader
 * restored from it continues at exactly the next record.
 *
 * Reads are synchronous, in chunks of CHUNK bytes: the source reader's pollNext is synchronous
 * (it runs on the task's hot path) and the files are local, so a chunk read is short. A line end
 * is '\n' or '\r\n'; a last line without a line end is a line too.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
const CR = 0x0d;

export interface Line {
  readonly text: string;
  /** Byte offset and number of this line. */
  readonly offset: number;
  readonly line: number;
}

export class LineCursor {
  readonly #fd: number;
  #buf: Buffer = Buffer.alloc(0);
  /** File offset of #buf[0]. */
  #bufStart: number;
  #eof = false;
  /** Byte offset and number of the next unread line. */
  offset: number;
  line: number;

  /** Opens `path` at a line start `offset` whose number is `line`. */
  constructor(
    readonly path: string,
    offset: number,
    line: number,
    readonly encoding: BufferEncoding = 'utf8',
  ) {
    this.#fd = openFile(path);
    this.offset = offset;
    this.line = line;
    this.#bufStart = offset;
  }

  /**
   * Opens `path` at the first line that starts at or after `rawOffset` (a byte-range split's
   * start), counting the lines before it for error messages.
   */
  static alignedAt(path: string, rawOffset: number, encoding: BufferEncoding = 'utf8'): LineCursor {
    if (rawOffset === 0) return new LineCursor(path, 0, 1, encoding);
    const fd = openFile(path);
    let lines = 0;
    let start = -1;
    try {
      const chunk = Buffer.allocUnsafe(CHUNK);
      // Line starts are 0 and every byte after a '\n': the first at or after rawOffset follows
      // the first '\n' at or after rawOffset - 1.
      for (let pos = 0; start < 0; ) {
        const n = readSync(fd, chunk, 0, CHUNK, pos);
        if (n === 0) {
          start = pos;
          break;
        }
        for (let i = chunk.indexOf(NEWLINE); i >= 0 && i < n; i = chunk.indexOf(NEWLINE, i + 1)) {
          lines++;
          if (pos + i >= rawOffset - 1) {
            start = pos + i + 1;
            break;
          }
        }
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
    return new LineCursor(path, start, lines + 1, encoding);
  }

  /** The next line, or undefined at the end of the file. */
  next(): Line | undefined {
    for (;;) {
      const rel = this.offset - this.#bufStart;
      const nl = this.#buf.indexOf(NEWLINE, rel);
      if (nl >= 0 || (this.#eof && rel < this.#buf.length)) {
        const endRel = nl >= 0 ? nl : this.#buf.length;
        const textEnd = endRel > rel && this.#buf[endRel - 1] === CR && nl >= 0 ? endRel - 1 : endRel;
        const line: Line = { text: this.#buf.toString(this.encoding, rel, textEnd), offset: this.offset, line: this.line };
        this.offset = this.#bufStart + (nl >= 0 ? nl + 1 : this.#buf.length);
        this.line++;
        return line;
      }
      if (this.#eof) return undefined;
      this.#fill();
    }
  }

  /** Drops consumed bytes and appends the next chunk of the file. */
  #fill(): void {
    const keep = this.#buf.subarray(this.offset - this.#bufStart);
    const chunk = Buffer.allocUnsafe(Math.max(CHUNK, keep.length));
    const readAt = this.offset + keep.length;
    const n = readSync(this.#fd, chunk, 0, chunk.length, readAt);
    if (n === 0) this.#eof = true;
    this.#buf = keep.length === 0 ? chunk.subarray(0, n) : Buffer.concat([keep, chunk.subarray(0, n)]);
    this.#bufStart = this.offset;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`file source: cannot open ${path}${code === 'ENOENT' ? ': it does not exist (files must not be removed while the source reads them)' : `: ${(e as Error).message}`}`, { cause: e });
  }
}
