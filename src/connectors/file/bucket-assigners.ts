/**
 * Bucket assigners of the file sink (Flink's BucketAssigner): a bucket is a directory under the
 * sink's base path, named by the assigner for each record. Each bucket has its own part files.
 */

/** What an assigner may consult about the record being written. */
export interface BucketAssignerContext {
  /** The sink writer's processing time (SinkWriterContext.currentProcessingTime()). */
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** The record's event-time timestamp, if it has one. */
  timestamp(): number | undefined;
}

export interface BucketAssigner<IN> {
  /**
   * The bucket of `element`: a relative directory path under the base path ('' for the base
   * path itself). Must not climb out of the base path.
   */
  getBucketId(element: IN, context: BucketAssignerContext): string;
}

/** Every record into the base path itself. */
export class BasePathBucketAssigner<IN> implements BucketAssigner<IN> {
  getBucketId(): string {
    return '';
  }
}

/**
 * Buckets by the writer's processing time, formatted with a date pattern (default
 * 'yyyy-MM-dd--HH', one directory per hour). Pattern letters: yyyy, yy, MM, dd, HH, mm, ss, SSS;
 * text between single quotes is copied; other letters are refused. The zone is the machine's
 * local zone unless 'UTC' is given (Flink uses the JVM's default zone).
 */
export class DateTimeBucketAssigner<IN> implements BucketAssigner<IN> {
  readonly #parts: readonly DatePart[];
  constructor(
    readonly formatString: string = 'yyyy-MM-dd--HH',
    readonly zone: 'local' | 'UTC' = 'local',
  ) {
    this.#parts = parseDatePattern(formatString);
  }

  getBucketId(_element: IN, context: BucketAssignerContext): string {
    return formatDate(this.#parts, context.currentProcessingTime(), this.zone === 'UTC');
  }
}

type DatePart = { readonly literal: string } | { readonly field: 'yyyy' | 'yy' | 'MM' | 'dd' | 'HH' | 'mm' | 'ss' | 'SSS' };

const FIELDS = ['yyyy', 'SSS', 'yy', 'MM', 'dd', 'HH', 'mm', 'ss'] as const;

function parseDatePattern(pattern: string): DatePart[] {
  const parts: DatePart[] = [];
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === "'") {
      const close = pattern.indexOf("'", i + 1);
      if (close < 0) throw new Error(`DateTimeBucketAssigner: unclosed quote in pattern '${pattern}'`);
      parts.push({ literal: close === i + 1 ? "'" : pattern.slice(i + 1, close) });
      i = close + 1;
      continue;
    }
    const field = FIELDS.find((f) => pattern.startsWith(f, i));
    if (field !== undefined) {
      parts.push({ field });
      i += field.length;
      continue;
    }
    if (/[A-Za-z]/.test(c)) throw new Error(`DateTimeBucketAssigner: unsupported pattern letters at '${pattern.slice(i)}' in '${pattern}' (known: ${FIELDS.join(', ')})`);
    parts.push({ literal: c });
    i++;
  }
  return parts;
}

function formatDate(parts: readonly DatePart[], millis: number, utc: boolean): string {
  const d = new Date(millis);
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  const values = utc
    ? { y: d.getUTCFullYear(), M: d.getUTCMonth() + 1, d: d.getUTCDate(), H: d.getUTCHours(), m: d.getUTCMinutes(), s: d.getUTCSeconds(), S: d.getUTCMilliseconds() }
    : { y: d.getFullYear(), M: d.getMonth() + 1, d: d.getDate(), H: d.getHours(), m: d.getMinutes(), s: d.getSeconds(), S: d.getMilliseconds() };
  let out = '';
  for (const p of parts) {
    if ('literal' in p) {
      out += p.literal;
      continue;
    }
    switch (p.field) {
      case 'yyyy':
        out += pad(values.y, 4);
        break;
      case 'yy':
        out += pad(values.y % 100, 2);
        break;
      case 'MM':
        out += pad(values.M, 2);
        break;
      case 'dd':
        out += pad(values.d, 2);
        break;
      case 'HH':
        out += pad(values.H, 2);
        break;
      case 'mm':
        out += pad(values.m, 2);
        break;
      case 'ss':
        out += pad(values.s, 2);
        break;
      case 'SSS':
        out += pad(values.S, 3);
        break;
    }
  }
  return out;
}
