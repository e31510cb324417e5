/**
 * An idempotent PostgreSQL sink: records are upserted (`INSERT … ON CONFLICT (key) DO UPDATE`)
 * in batches, and the batch is sent at every checkpoint's barrier (`flush(false)`), so a
 * completed checkpoint implies every record before its barrier is in the table.
 *
 * Delivery is at-least-once: after a failure the records that followed the restored checkpoint
 * are written again. Writing one again leaves the same row when the key identifies the record and
 * the replay writes the same values, so the table ends as if each record had been written once
 * (effectively once). Between the failure and the replay, rows of records after the checkpoint
 * are visible, as with any at-least-once sink.
 *
 * Without a natural key, `recordIdColumn` keys rows by SinkWriterElementContext.recordId(): a
 * replayed record gets the id it had before, which holds when records reach the sink subtask in the
 * same order on replay (a deterministic source chained to the sink or feeding it over a forward
 * exchange; see recordId's contract).
 */
import type pg from 'pg';
import type { Sink, SinkWriter, SinkWriterContext, SinkWriterElementContext } from '../../api/sink.ts';
import { connect, describeConnection, endQuietly, explainTableError, quoteIdentifier, requireTable, type PostgresConnection } from './postgres-connection.ts';
import { insertStatements } from './row-statement.ts';

export interface PostgresUpsertSinkOptions<IN> {
  readonly connection: PostgresConnection;
  /** The table, optionally schema-qualified. It must exist, with a unique constraint on `keyColumns`. */
  readonly table: string;
  /** The columns `toRow` fills, in order (without `recordIdColumn`). */
  readonly columns: readonly string[];
  toRow(record: IN): readonly unknown[];
  /**
   * The conflict target: columns of a primary key or unique constraint. Records with the same key
   * replace each other (the last one written wins). Defaults to `[recordIdColumn]` when that is
   * given.
   */
  readonly keyColumns?: readonly string[];
  /** A text column that receives each record's SinkWriterElementContext.recordId(), as the key when the records have none. */
  readonly recordIdColumn?: string;
  /** Records buffered before a batch is sent (default 500). */
  readonly batchSize?: number;
}

export class PostgresUpsertSink<IN> implements Sink<IN> {
  readonly #options: PostgresUpsertSinkOptions<IN>;
  readonly #columns: readonly string[];
  readonly #keys: readonly string[];

  constructor(options: PostgresUpsertSinkOptions<IN>) {
    const idColumn = options.recordIdColumn;
    const columns = idColumn === undefined ? options.columns : [...options.columns, idColumn];
    const keys = options.keyColumns ?? (idColumn === undefined ? [] : [idColumn]);
    if (keys.length === 0) throw new Error(`PostgresUpsertSink on ${options.table}: keyColumns (or recordIdColumn) must name the conflict target`);
    for (const k of keys) if (!columns.includes(k)) throw new Error(`PostgresUpsertSink on ${options.table}: key column ${k} is not among the columns ${columns.join(', ')}`);
    if (options.batchSize !== undefined && !(Number.isInteger(options.batchSize) && options.batchSize > 0)) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    this.#options = options;
    this.#columns = columns;
    this.#keys = keys;
  }

  async createWriter(_context: SinkWriterContext<never>): Promise<SinkWriter<IN>> {
    const o = this.#options;
    const who = `PostgresUpsertSink on ${o.table}`;
    const client = await connect(o.connection);
    try {
      await requireTable(client, o.table, who, describeConnection(o.connection));
    } catch (e) {
      await endQuietly(client);
      throw e;
    }
    const values = this.#columns.filter((c) => !this.#keys.includes(c));
    const suffix =
      ` ON CONFLICT (${this.#keys.map(quoteIdentifier).join(', ')}) ` +
      (values.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${values.map((c) => `${quoteIdentifier(c)} = EXCLUDED.${quoteIdentifier(c)}`).join(', ')}`);
    const keyIndexes = this.#keys.map((k) => this.#columns.indexOf(k));
    return new PostgresUpsertWriter<IN>(client, {
      table: o.table,
      who,
      columns: this.#columns,
      suffix,
      keyIndexes,
      toRow: (r) => o.toRow(r),
      withRecordId: o.recordIdColumn !== undefined,
      batchSize: o.batchSize ?? 500,
    });
  }
}

interface UpsertSettings<IN> {
  readonly table: string;
  readonly who: string;
  readonly columns: readonly string[];
  readonly suffix: string;
  readonly keyIndexes: readonly number[];
  readonly toRow: (record: IN) => readonly unknown[];
  readonly withRecordId: boolean;
  readonly batchSize: number;
}

class PostgresUpsertWriter<IN> implements SinkWriter<IN> {
  readonly #client: pg.Client;
  readonly #s: UpsertSettings<IN>;
  /** Rows by key: a statement may not touch one row twice (ON CONFLICT DO UPDATE refuses), and the last record of a key wins anyway. */
  #rows = new Map<string, readonly unknown[]>();

  constructor(client: pg.Client, settings: UpsertSettings<IN>) {
    this.#client = client;
    this.#s = settings;
  }

  write(element: IN, context: SinkWriterElementContext): void | Promise<void> {
    const s = this.#s;
    const row = s.withRecordId ? [...s.toRow(element), context.recordId()] : s.toRow(element);
    const key = JSON.stringify(s.keyIndexes.map((i) => `${typeof row[i]}:${String(row[i])}`));
    this.#rows.delete(key);
    this.#rows.set(key, row);
    if (this.#rows.size >= s.batchSize) return this.#send();
  }

  flush(): Promise<void> {
    return this.#send();
  }

  async #send(): Promise<void> {
    if (this.#rows.size === 0) return;
    const rows = [...this.#rows.values()];
    this.#rows = new Map();
    try {
      // One statement per batch (unless the parameter limit splits it): each is atomic on its own.
      for (const st of insertStatements(this.#s.table, this.#s.columns, rows, this.#s.suffix)) await this.#client.query(st.text, st.values);
    } catch (e) {
      throw explainTableError(e, this.#s.table, this.#s.who);
    }
  }

  async close(): Promise<void> {
    await endQuietly(this.#client);
  }
}
