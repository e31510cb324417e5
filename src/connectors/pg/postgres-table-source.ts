/**
 * A bounded, replayable PostgreSQL source: reads one table by ranges of an integer key column
 * (Flink JDBC's partitioned scan: `scan.partition.column`, `.num`, `.lower-bound`, `.upper-bound`).
 *
 * The key range [lowerBound, upperBound] is cut into `numSplits` ranges of equal width; the first
 * range also takes every key below lowerBound and the last every key above upperBound, so the
 * bounds only set the stride and no row is left out. Split i is read by subtask i % parallelism.
 * A reader reads a split in pages ordered by the key (`… WHERE key > <last key read> ORDER BY key
 * LIMIT fetchSize`), and the split remembers the last key emitted, so a restored reader resumes
 * right after it. That needs the key column to be unique (a primary key, say) and the table not to
 * change while it is read: the source reads what the table holds when each page is fetched.
 *
 * `pollNext` is synchronous and queries are not: a reader fetches pages in the background, one
 * query at a time, up to two pages ahead of what it emitted (across its splits, in order), and says
 * NOTHING_AVAILABLE when none is there yet (`isAvailable()` resolves when the query returns).
 */
import pg from 'pg';
import type { Boundedness, InputStatus, ReaderOutput, Source, SourceReader, SourceReaderContext, SourceSplit } from '../../api/source.ts';
import { describeConnection, explainTableError, quoteIdentifier, quoteQualified, type PostgresConnection } from './postgres-connection.ts';

export interface PostgresTableSourceOptions<T> {
  readonly connection: PostgresConnection;
  /** The table, optionally schema-qualified. */
  readonly table: string;
  /** A unique integer column (int2/int4/int8 within JavaScript's safe integers) the splits range over. */
  readonly splitColumn: string;
  /** How many key ranges to read in parallel (independent of the job's parallelism). */
  readonly numSplits: number;
  /** The key range the splits divide evenly; keys outside it go to the first or the last split. */
  readonly lowerBound: number;
  readonly upperBound: number;
  /** The columns to read (default all); the split column is read in any case. */
  readonly columns?: readonly string[];
  /** Rows per query (default 500). */
  readonly fetchSize?: number;
  /** The record of a row (default: the row object, column name to value, as node-postgres gives it). */
  fromRow?(row: Record<string, unknown>): T;
}

/** A key range of the table, and the last key read in it. Plain data. */
export interface PostgresTableSplit extends SourceSplit {
  /** Lowest key of the range (inclusive); null: unbounded below. */
  readonly from: number | null;
  /** Key the range ends before (exclusive); null: unbounded above. */
  readonly to: number | null;
  /** The last key emitted from this split; null before the first. */
  readonly after: number | null;
}

/** Records one poll emits at most. */
const POLL_BATCH = 64;

export class PostgresTableSource<T = Record<string, unknown>> implements Source<T, PostgresTableSplit> {
  readonly #o: PostgresTableSourceOptions<T>;

  constructor(options: PostgresTableSourceOptions<T>) {
    const { numSplits, lowerBound, upperBound } = options;
    if (!Number.isInteger(numSplits) || numSplits < 1) throw new RangeError(`numSplits must be a positive integer, got ${numSplits}`);
    if (!Number.isSafeInteger(lowerBound) || !Number.isSafeInteger(upperBound) || lowerBound > upperBound) {
      throw new RangeError(`lowerBound and upperBound must be safe integers with lowerBound <= upperBound, got ${lowerBound} and ${upperBound}`);
    }
    if (options.fetchSize !== undefined && !(Number.isInteger(options.fetchSize) && options.fetchSize > 0)) throw new RangeError(`fetchSize must be a positive integer, got ${options.fetchSize}`);
    this.#o = options;
  }

  getBoundedness(): Boundedness {
    return 'BOUNDED';
  }

  /** The same `numSplits` key ranges at every parallelism (the reader of split i is subtask i % p). */
  createSplits(_parallelism: number): PostgresTableSplit[] {
    const { numSplits, lowerBound, upperBound, table } = this.#o;
    const width = Math.ceil((upperBound - lowerBound + 1) / numSplits);
    return Array.from({ length: numSplits }, (_, i) => ({
      splitId: `${table}[${i}/${numSplits}]`,
      from: i === 0 ? null : lowerBound + i * width,
      to: i === numSplits - 1 ? null : lowerBound + (i + 1) * width,
      after: null,
    }));
  }

  createReader(_context: SourceReaderContext): SourceReader<T, PostgresTableSplit> {
    return new PostgresTableReader(this.#o);
  }
}

interface MutableSplit {
  readonly splitId: string;
  readonly from: number | null;
  readonly to: number | null;
  /** The last key emitted: the position a snapshot records. */
  after: number | null;
  /** The last key fetched: where the next page starts. */
  fetched: number | null;
  /** Fetched rows not emitted yet, with their keys. */
  rows: { key: number; value: unknown }[];
  /** A page came back short: everything of the split is fetched. */
  exhausted: boolean;
}

/** Pools by connection, shared by the readers of a thread; idle connections close and let the process exit. */
const pools = new Map<string, pg.Pool>();

function poolFor(connection: PostgresConnection): pg.Pool {
  const id = typeof connection === 'string' ? connection : JSON.stringify(connection);
  let pool = pools.get(id);
  if (pool === undefined) {
    const config: pg.PoolConfig = typeof connection === 'string' ? { connectionString: connection } : { ...connection };
    pool = new pg.Pool({ ...config, max: 8, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
    // An idle connection that breaks is dropped by the pool; the next query gets a new one.
    pool.on('error', () => {});
    pools.set(id, pool);
  }
  return pool;
}

class PostgresTableReader<T> implements SourceReader<T, PostgresTableSplit> {
  readonly #o: PostgresTableSourceOptions<T>;
  readonly #select: string;
  readonly #fetchSize: number;
  #splits: MutableSplit[] = [];
  #noMore = false;
  #fetching: Promise<void> | undefined;
  #error: unknown;
  #closed = false;

  constructor(options: PostgresTableSourceOptions<T>) {
    this.#o = options;
    this.#fetchSize = options.fetchSize ?? 500;
    const key = quoteIdentifier(options.splitColumn);
    const columns = options.columns === undefined ? '*' : [...new Set([...options.columns, options.splitColumn])].map(quoteIdentifier).join(', ');
    this.#select = `SELECT ${columns}, ${key} AS "weir$key" FROM ${quoteQualified(options.table)}`;
  }

  addSplits(splits: readonly PostgresTableSplit[]): void {
    for (const s of splits) this.#splits.push({ splitId: s.splitId, from: s.from, to: s.to, after: s.after, fetched: s.after, rows: [], exhausted: false });
    // Fetch ahead: the first poll finds rows sooner.
    this.#fetchAhead();
  }

  notifyNoMoreSplits(): void {
    this.#noMore = true;
  }

  pollNext(output: ReaderOutput<T>): InputStatus {
    if (this.#error !== undefined) throw this.#error;
    const fromRow = this.#o.fromRow;
    for (;;) {
      const s = this.#splits[0];
      if (s === undefined) return this.#noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
      if (s.rows.length === 0) {
        if (s.exhausted) {
          this.#splits.shift();
          continue;
        }
        this.#fetchAhead();
        return 'NOTHING_AVAILABLE';
      }
      for (const r of s.rows.splice(0, POLL_BATCH)) {
        // The position moves before the record leaves: a snapshot between polls agrees with what was emitted.
        s.after = r.key;
        output.collect(fromRow === undefined ? (r.value as T) : fromRow(r.value as Record<string, unknown>));
      }
      if (s.rows.length === 0 && s.exhausted) this.#splits.shift();
      this.#fetchAhead();
      const next = this.#splits[0];
      if (next === undefined) return this.#noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
      return next.rows.length > 0 || this.#fetching === undefined ? 'MORE_AVAILABLE' : 'NOTHING_AVAILABLE';
    }
  }

  isAvailable(): Promise<void> {
    if (this.#fetching !== undefined) return this.#fetching;
    // Nothing being fetched: either rows are ready (poll now) or every split is done (wait for nothing).
    if (this.#splits.length === 0 && !this.#noMore) return new Promise(() => {});
    return Promise.resolve();
  }

  /**
   * Keeps one query in flight while fewer than two pages are buffered, for the first split with
   * rows left to fetch: the reader rarely waits for a page, and its memory stays bounded.
   */
  #fetchAhead(): void {
    if (this.#closed || this.#fetching !== undefined || this.#error !== undefined) return;
    let buffered = 0;
    for (const s of this.#splits) buffered += s.rows.length;
    if (buffered >= 2 * this.#fetchSize) return;
    const s = this.#splits.find((x) => !x.exhausted);
    if (s === undefined) return;
    this.#fetching = this.#fetch(s).then(
      () => {
        this.#fetching = undefined;
        this.#fetchAhead();
      },
      (e: unknown) => {
        this.#fetching = undefined;
        this.#error = explainTableError(e, this.#o.table, `PostgresTableSource on ${describeConnection(this.#o.connection)}`);
      },
    );
  }

  async #fetch(s: MutableSplit): Promise<void> {
    const key = quoteIdentifier(this.#o.splitColumn);
    const where: string[] = [];
    const values: unknown[] = [];
    if (s.from !== null) where.push(`${key} >= $${values.push(s.from)}`);
    if (s.to !== null) where.push(`${key} < $${values.push(s.to)}`);
    if (s.fetched !== null) where.push(`${key} > $${values.push(s.fetched)}`);
    const text = `${this.#select}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${key} LIMIT ${this.#fetchSize}`;
    const { rows } = await poolFor(this.#o.connection).query<Record<string, unknown>>(text, values);
    for (const row of rows) {
      const k = Number(row['weir$key']);
      if (!Number.isSafeInteger(k)) throw new Error(`PostgresTableSource: ${this.#o.table}.${this.#o.splitColumn} holds ${String(row['weir$key'])}, not a safe integer`);
      delete row['weir$key'];
      s.rows.push({ key: k, value: row });
      s.fetched = k;
    }
    if (rows.length < this.#fetchSize) s.exhausted = true;
  }

  snapshotState(): PostgresTableSplit[] {
    return this.#splits.map((s) => ({ splitId: s.splitId, from: s.from, to: s.to, after: s.after }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#fetching;
  }
}
