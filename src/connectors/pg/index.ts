/**
 * PostgreSQL connectors (`weir/connectors/pg`; needs the `pg` package): an exactly-once sink by
 * two-phase commit, an idempotent upsert sink, and a bounded, replayable table source.
 * docs/connectors/pg.md describes their guarantees and what the server must allow.
 */
export {
  PostgresTwoPhaseCommitSink,
  PostgresTwoPhaseCommitWriter,
  PostgresTwoPhaseCommitCommitter,
  PreparedTransactionsDisabledError,
  type PostgresTwoPhaseCommitSinkOptions,
  type PostgresRows,
  type PreparedTransactionId,
} from './postgres-two-phase-commit-sink.ts';
export { PostgresUpsertSink, type PostgresUpsertSinkOptions } from './postgres-upsert-sink.ts';
export { PostgresTableSource, type PostgresTableSourceOptions, type PostgresTableSplit } from './postgres-table-source.ts';
export { PostgresTableNotFoundError, isTransientError, type PostgresConnection } from './postgres-connection.ts';
export { type BatchWriter, type RowMapping } from './row-statement.ts';
export { formatTransactionName, parseTransactionName, mustRollBack, type TransactionName, type WriterStart } from './transaction-name.ts';
