/**
 * An exactly-once PostgreSQL sink by two-phase commit (Flink's Sink V2 shape, like the
 * exactly-once JDBC sink on XA): each writer writes its records inside a transaction on its own
 * connection; at each checkpoint's barrier it runs `PREPARE TRANSACTION '<gid>'`, which makes the
 * transaction durable on the server without making it visible, and hands the gid over as the
 * committable; once the checkpoint is complete the committer runs `COMMIT PREPARED '<gid>'`.
 *
 * A failure before the checkpoint completes restores an earlier one: its records are written
 * again, and the prepared transaction is rolled back when the writers start (transaction-name.ts
 * says which). A failure after it restores a checkpoint that still holds the gid, which is
 * committed again; a gid that is no longer prepared was committed (PostgreSQL forgets a gid once
 * it is committed or rolled back, and only gids the restore rolled back are never handed over),
 * so the committer signals it already committed. A server that is unreachable at commit time
 * makes the committer retry later, never drop the commit.
 *
 * The server must allow prepared transactions (`max_prepared_transactions` > 0); each writer
 * holds at most one prepared transaction per checkpoint not yet committed.
 */
import type pg from 'pg';
import type { CommitRequest, Committer, CommitterContext, CommittingSinkWriter, Sink, SinkWriterContext, SinkWriterElementContext, StatefulSinkWriter } from '../../api/sink.ts';
import {
  connect,
  describeConnection,
  endQuietly,
  errorCode,
  explainTableError,
  isTransientError,
  quoteLiteral,
  requireTable,
  UNDEFINED_OBJECT,
  type PostgresConnection,
} from './postgres-connection.ts';
import { insertingWriter, type BatchWriter } from './row-statement.ts';
import { formatTransactionName, mustRollBack, parseTransactionName, requireValidSinkId, transactionPrefix, type WriterStart } from './transaction-name.ts';

/** Where the records go: a table, its columns and the row of a record; or a table and a hook that writes a batch. */
export type PostgresRows<IN> =
  | {
      /** The table, optionally schema-qualified (`schema.table`). It must exist when the job starts. */
      readonly table: string;
      readonly columns: readonly string[];
      /** One value per column, in `columns` order. */
      toRow(record: IN): readonly unknown[];
      readonly writeBatch?: never;
    }
  | {
      readonly table: string;
      /** Writes a batch with the client, inside the writer's transaction (never commit or roll back there). */
      readonly writeBatch: BatchWriter<IN>;
      readonly columns?: never;
      readonly toRow?: never;
    };

export type PostgresTwoPhaseCommitSinkOptions<IN> = PostgresRows<IN> & {
  readonly connection: PostgresConnection;
  /**
   * Names this sink's prepared transactions (Flink's transactional-id prefix): stable across runs
   * and resumes of the job, and unique among the jobs writing through the same server (a start
   * rolls back this sink's prepared transactions that no restored checkpoint holds). Letters,
   * digits, '_', '.', '-'.
   */
  readonly sinkId: string;
  /** Records buffered before they are sent to the server within the transaction (default 500). */
  readonly batchSize?: number;
  /** Milliseconds before a commit the server could not take is tried again (default 1000). */
  readonly commitRetryDelayMs?: number;
  /** Commit rounds a committable may be retried in before the job fails and restores (default 60). */
  readonly maxCommitRetries?: number;
};

/** The committable: the gid of a prepared transaction. */
export type PreparedTransactionId = string;

/** Thrown at writer start when the server does not allow prepared transactions. */
export class PreparedTransactionsDisabledError extends Error {
  override readonly name = 'PreparedTransactionsDisabledError';
}

export class PostgresTwoPhaseCommitSink<IN> implements Sink<IN, PreparedTransactionId> {
  readonly commitRetryDelayMs: number;
  readonly maxCommitRetries: number;
  readonly #options: PostgresTwoPhaseCommitSinkOptions<IN>;
  readonly #write: BatchWriter<IN>;

  constructor(options: PostgresTwoPhaseCommitSinkOptions<IN>) {
    requireValidSinkId(options.sinkId);
    if (options.batchSize !== undefined && !(Number.isInteger(options.batchSize) && options.batchSize > 0)) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    this.#options = options;
    this.#write = options.writeBatch ?? insertingWriter({ table: options.table, columns: options.columns, toRow: (r: IN) => options.toRow(r) });
    this.commitRetryDelayMs = options.commitRetryDelayMs ?? 1000;
    this.maxCommitRetries = options.maxCommitRetries ?? 60;
  }

  get sinkId(): string {
    return this.#options.sinkId;
  }

  async createWriter(context: SinkWriterContext): Promise<PostgresTwoPhaseCommitWriter<IN>> {
    const o = this.#options;
    const who = `PostgresTwoPhaseCommitSink "${o.sinkId}"`;
    const where = describeConnection(o.connection);
    const start: WriterStart = {
      subtask: context.getSubtaskIndex(),
      parallelism: context.getNumberOfParallelSubtasks(),
      restoredCheckpointId: context.getRestoredCheckpointId(),
    };
    const client = await connect(o.connection);
    try {
      const { rows } = await client.query<{ max_prepared_transactions: string }>('SHOW max_prepared_transactions');
      if (Number(rows[0]?.max_prepared_transactions ?? 0) === 0) {
        throw new PreparedTransactionsDisabledError(
          `${who}: the server at ${where} has max_prepared_transactions = 0, so it cannot prepare transactions for two-phase commit. ` +
            'Allow them and restart the server: `ALTER SYSTEM SET max_prepared_transactions = 20;` (or `max_prepared_transactions = 20` in postgresql.conf), ' +
            'at least the sink parallelism times the checkpoints that may be pending at once, plus other users of prepared transactions.',
        );
      }
      await requireTable(client, o.table, who, where);
      await rollBackLingering(client, o.sinkId, start);
    } catch (e) {
      await endQuietly(client);
      throw e;
    }
    return new PostgresTwoPhaseCommitWriter<IN>(client, this.#write, {
      sinkId: o.sinkId,
      table: o.table,
      who,
      subtask: start.subtask,
      after: start.restoredCheckpointId ?? 0,
      batchSize: o.batchSize ?? 500,
    });
  }

  createCommitter(_context: CommitterContext): PostgresTwoPhaseCommitCommitter {
    return new PostgresTwoPhaseCommitCommitter(this.#options.connection);
  }
}

/** Rolls back the prepared transactions of this sink that the writer at `start` is responsible for and nothing will commit. */
async function rollBackLingering(client: pg.Client, sinkId: string, start: WriterStart): Promise<string[]> {
  const { rows } = await client.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) ORDER BY gid', [transactionPrefix(sinkId)]);
  const rolledBack: string[] = [];
  for (const { gid } of rows) {
    const name = parseTransactionName(gid, sinkId);
    if (name === undefined || !mustRollBack(name, start)) continue;
    try {
      await client.query(`ROLLBACK PREPARED ${quoteLiteral(gid)}`);
      rolledBack.push(gid);
    } catch (e) {
      // Gone meanwhile (finished by its own session's end): nothing to roll back.
      if (errorCode(e) !== UNDEFINED_OBJECT) throw e;
    }
  }
  return rolledBack;
}

interface WriterSettings {
  readonly sinkId: string;
  readonly table: string;
  readonly who: string;
  readonly subtask: number;
  /** The restored checkpoint's id, or 0. */
  readonly after: number;
  readonly batchSize: number;
}

export class PostgresTwoPhaseCommitWriter<IN> implements CommittingSinkWriter<IN, PreparedTransactionId>, StatefulSinkWriter<IN, never> {
  readonly #client: pg.Client;
  readonly #write: BatchWriter<IN>;
  readonly #settings: WriterSettings;
  #buffer: IN[] = [];
  #inTransaction = false;
  /** The last checkpoint whose barrier this writer passed (see transaction-name.ts). */
  #after: number;
  #prepared = 0;

  constructor(client: pg.Client, write: BatchWriter<IN>, settings: WriterSettings) {
    this.#client = client;
    this.#write = write;
    this.#settings = settings;
    this.#after = settings.after;
  }

  write(element: IN, _context?: SinkWriterElementContext): void | Promise<void> {
    this.#buffer.push(element);
    if (this.#buffer.length >= this.#settings.batchSize) return this.#send();
  }

  flush(_endOfInput?: boolean): Promise<void> {
    return this.#send();
  }

  async #send(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    if (!this.#inTransaction) {
      await this.#client.query('BEGIN');
      this.#inTransaction = true;
    }
    try {
      await this.#write(this.#client, batch);
    } catch (e) {
      throw explainTableError(e, this.#settings.table, this.#settings.who);
    }
  }

  /** Prepares the open transaction under a new name and hands the name over; nothing when no record was written since the last barrier. */
  async prepareCommit(): Promise<PreparedTransactionId[]> {
    await this.#send();
    if (!this.#inTransaction) return [];
    const s = this.#settings;
    const gid = formatTransactionName({ sinkId: s.sinkId, subtask: s.subtask, after: this.#after, n: this.#prepared });
    await this.#client.query(`PREPARE TRANSACTION ${quoteLiteral(gid)}`);
    this.#inTransaction = false;
    this.#prepared++;
    return [gid];
  }

  /** Learns the checkpoint whose barrier the writer passes (it names the next transaction); the writer keeps no state. */
  snapshotState(checkpointId: number): never[] {
    this.#after = checkpointId;
    return [];
  }

  /** Abandons an open transaction (its records come again from the restored checkpoint) and the connection. */
  async close(): Promise<void> {
    if (this.#inTransaction) {
      this.#inTransaction = false;
      await this.#client.query('ROLLBACK').catch(() => {});
    }
    await endQuietly(this.#client);
  }
}

export class PostgresTwoPhaseCommitCommitter implements Committer<PreparedTransactionId> {
  readonly #connection: PostgresConnection;
  #client: pg.Client | undefined;

  constructor(connection: PostgresConnection) {
    this.#connection = connection;
  }

  async commit(requests: readonly CommitRequest<PreparedTransactionId>[]): Promise<void> {
    for (const r of requests) {
      const gid = r.getCommittable();
      try {
        this.#client ??= await connect(this.#connection);
        await this.#client.query(`COMMIT PREPARED ${quoteLiteral(gid)}`);
      } catch (e) {
        if (errorCode(e) === UNDEFINED_OBJECT) {
          // Not prepared (any more): committed before, by the run that failed after its commit.
          r.signalAlreadyCommitted();
        } else if (isTransientError(e)) {
          const client = this.#client;
          this.#client = undefined;
          await endQuietly(client);
          r.retryLater();
        } else {
          r.signalFailedWithUnknownReason(e);
        }
      }
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await endQuietly(client);
  }
}
