/**
 * Record formats of the file source (Flink's StreamFormat role): how the lines of a file become
 * records. Every format here is line-based, which is what lets a split record an exact byte
 * offset: a record starts at the beginning of a line, so "the next record starts at byte n" is a
 * complete read position. A CSV record may continue over several lines (a quoted field holding a
 * line break); the reader then joins lines until the format says the record is complete.
 */
import { parse as parseCsv } from 'csv-parse/sync';

/** Where a record came from: for error messages and malformed-record handlers. */
export interface RecordPosition {
  /** The file, as the source names it (an absolute path). */
  readonly path: string;
  /** 1-based number of the record's first line. */
  readonly line: number;
  /** Byte offset of the record's first line. */
  readonly offset: number;
}

/** What a format learns about the record it decodes. */
export interface RecordContext extends RecordPosition {
  /** The text of the file's header lines (as many as the format's `headerLines`), without line ends. */
  readonly header: readonly string[];
}

/**
 * A line-based record format. `decode` throws (any error) on malformed input; the source turns
 * that into a MalformedRecordError naming the file and line, and fails, skips or hands it to a
 * handler as configured.
 */
export interface StreamFormat<T> {
  /** A short name for messages ("JSON", "CSV", "text"). */
  readonly kind: string;
  /** Lines at the start of every file that are not records (a CSV header). */
  readonly headerLines: number;
  /**
   * Whether a file may be read in byte ranges starting at arbitrary line starts: true when a line
   * break never occurs inside a record. A format with header lines is never split.
   */
  readonly splittable: boolean;
  /** Whether a line (without its line end) holds no record and is passed over. */
  isBlank(line: string): boolean;
  /** For records that may span lines: whether `text` (lines joined with '\n') is a whole record. Absent: every line is one. */
  isComplete?(text: string): boolean;
  decode(text: string, context: RecordContext): T;
}

/** A record that could not be decoded, with where it is. */
export class MalformedRecordError extends Error {
  override readonly name = 'MalformedRecordError';
  constructor(
    readonly kind: string,
    readonly position: RecordPosition,
    /** The record's text, cut to 200 characters. */
    readonly text: string,
    options?: { cause?: unknown },
  ) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause ?? 'malformed');
    super(`malformed ${kind} record in ${position.path} at line ${position.line}: ${reason}`, options);
  }
}

/** Each line is one string record, empty lines included (Flink's TextLineInputFormat). Line ends (\n, \r\n) are removed. */
export class TextLineInputFormat implements StreamFormat<string> {
  readonly kind = 'text';
  readonly headerLines = 0;
  readonly splittable = true;
  isBlank(): boolean {
    return false;
  }
  decode(text: string): string {
    return text;
  }
}

/**
 * One JSON value per line (JSON Lines). Blank lines are passed over; a line that is not valid
 * JSON is malformed.
 */
export class JsonLinesInputFormat<T = unknown> implements StreamFormat<T> {
  readonly kind = 'JSON';
  readonly headerLines = 0;
  readonly splittable = true;
  isBlank(line: string): boolean {
    return line.trim() === '';
  }
  decode(text: string): T {
    return JSON.parse(text) as T;
  }
}

export interface CsvFormatOptions {
  /** Field delimiter (default ','). */
  readonly delimiter?: string;
  /** Quote character (default '"'); a quote inside a quoted field is doubled. */
  readonly quote?: string;
  /**
   * Whether the first line of every file names the columns (default false). With a header,
   * records are objects keyed by the column names unless `records` says 'arrays'.
   */
  readonly header?: boolean;
  /** Column names for files without a header: records become objects with these keys. */
  readonly columns?: readonly string[];
  /** 'objects' (needs `header` or `columns`) or 'arrays' (default: objects when columns are known). */
  readonly records?: 'objects' | 'arrays';
  /** Whether a record may have another number of fields than the columns (default false: it is malformed). */
  readonly relaxColumnCount?: boolean;
}

/**
 * Comma-separated values, parsed with csv-parse one record at a time. Records are arrays of
 * strings, or objects keyed by the column names (from the header line or `columns`). Empty lines
 * are passed over. A quoted field may hold line breaks, so CSV files are read whole, never in byte
 * ranges.
 */
export class CsvReaderFormat<T = Record<string, string> | string[]> implements StreamFormat<T> {
  readonly kind = 'CSV';
  readonly headerLines: number;
  readonly splittable = false;
  readonly #delimiter: string;
  readonly #quote: string;
  readonly #asObjects: boolean;
  /** The columns of the last header seen, by its text (a reader reads one file at a time). */
  #header: { text: string; columns: readonly string[] } | undefined;

  constructor(readonly options: CsvFormatOptions = {}) {
    this.headerLines = options.header === true ? 1 : 0;
    this.#delimiter = options.delimiter ?? ',';
    this.#quote = options.quote ?? '"';
    const known = options.header === true || options.columns !== undefined;
    if (options.records === 'objects' && !known) throw new Error("CsvReaderFormat: records: 'objects' needs header: true or columns");
    if (this.#delimiter.length === 0 || this.#quote.length !== 1) throw new Error('CsvReaderFormat: the delimiter must not be empty and the quote must be one character');
    this.#asObjects = known && options.records !== 'arrays';
  }

  isBlank(line: string): boolean {
    return line === '';
  }

  /** Complete when its quotes are balanced: an open quoted field continues on the next line. */
  isComplete(text: string): boolean {
    let quotes = 0;
    for (let i = text.indexOf(this.#quote); i >= 0; i = text.indexOf(this.#quote, i + 1)) quotes++;
    return quotes % 2 === 0;
  }

  #fields(text: string): string[] {
    const rows = parseCsv(text, { delimiter: this.#delimiter, quote: this.#quote, relax_column_count: true }) as string[][];
    if (rows.length !== 1) throw new Error(`expected one record, found ${rows.length}`);
    return rows[0]!;
  }

  #columns(context: RecordContext): readonly string[] | undefined {
    if (this.options.columns !== undefined) return this.options.columns;
    if (this.headerLines === 0) return undefined;
    const text = context.header[0] ?? '';
    if (this.#header?.text !== text) this.#header = { text, columns: this.#fields(text) };
    return this.#header.columns;
  }

  decode(text: string, context: RecordContext): T {
    const fields = this.#fields(text);
    const columns = this.#columns(context);
    if (columns !== undefined && fields.length !== columns.length && this.options.relaxColumnCount !== true) {
      throw new Error(`expected ${columns.length} fields, found ${fields.length}`);
    }
    if (!this.#asObjects || columns === undefined) return fields as T;
    const record: Record<string, string> = {};
    for (const [i, c] of columns.entries()) if (i < fields.length) record[c] = fields[i]!;
    return record as T;
  }
}

/** A record of a format wrapped by `withMalformedRecords`: the value, or what was wrong. */
export type RecordOrMalformed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly malformed: MalformedRecordInfo };

/** A malformed record as plain data (it travels through the stream). */
export interface MalformedRecordInfo extends RecordPosition {
  readonly kind: string;
  readonly text: string;
  readonly message: string;
}

/**
 * Wraps a format so that malformed records become records too ({ ok: false, malformed }),
 * instead of failing the source: a ProcessFunction downstream can route them to a side output
 * (OutputTag) while the good ones ({ ok: true, value }) go on.
 */
export function withMalformedRecords<T>(format: StreamFormat<T>): StreamFormat<RecordOrMalformed<T>> {
  const wrapped: StreamFormat<RecordOrMalformed<T>> = {
    kind: format.kind,
    headerLines: format.headerLines,
    splittable: format.splittable,
    isBlank: (line) => format.isBlank(line),
    decode(text, context) {
      try {
        return { ok: true, value: format.decode(text, context) };
      } catch (e) {
        const error = new MalformedRecordError(format.kind, context, text.slice(0, 200), { cause: e });
        return { ok: false, malformed: malformedInfo(error) };
      }
    },
  };
  if (format.isComplete !== undefined) wrapped.isComplete = (text) => format.isComplete!(text);
  return wrapped;
}

/** The plain-data description of a malformed record. */
export function malformedInfo(error: MalformedRecordError): MalformedRecordInfo {
  return { kind: error.kind, path: error.position.path, line: error.position.line, offset: error.position.offset, text: error.text, message: error.message };
}
