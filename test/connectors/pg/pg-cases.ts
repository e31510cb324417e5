/**
 * The PostgreSQL connectors as cases of the contract suites. Jobs of the suites import this module
 * again in every worker, so each case names this module and its export; the target string carries
 * everything a worker needs to reach the table (`<port>/<table>`).
 */
import { fileURLToPath } from 'node:url';
import { PostgresTableSource, PostgresTwoPhaseCommitSink, PostgresUpsertSink, type PostgresTableSplit, type PreparedTransactionId } from 'weir/connectors/pg';
import type pg from 'pg';
import type { SinkContractCase } from '../../contracts/sink.contract.ts';
import type { SourceContractCase } from '../../contracts/source.contract.ts';
import { query, SHARED_SERVER } from '../../support/postgres.ts';

const module = fileURLToPath(import.meta.url);
let tables = 0;

export interface PgTarget {
  readonly connection: pg.ClientConfig;
  readonly table: string;
}

/** `<port>/<table>` on 127.0.0.1 as user postgres; the database is `postgres` on private instances, `test` on the shared server. */
export function parseTarget(target: string): PgTarget {
  const [port, table] = target.split('/') as [string, string];
  const connection = Number(port) === SHARED_SERVER.port ? SHARED_SERVER : { host: '127.0.0.1', port: Number(port), user: 'postgres', database: 'postgres' };
  return { connection, table };
}

function newTableName(kind: string): string {
  return `weir_${kind}_${process.pid}_${++tables}`;
}

/** Rolls back every prepared transaction of the sink writing to `table` (its sinkId is the table name). */
export async function rollBackPrepared(connection: pg.ClientConfig, sinkId: string): Promise<number> {
  const rows = await query<{ gid: string }>(connection, 'SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1)', [`weir:${sinkId}:`]);
  for (const { gid } of rows) await query(connection, `ROLLBACK PREPARED '${gid}'`).catch(() => {});
  return rows.length;
}

// ---- two-phase commit sink, on a private instance --------------------------------------------

let privatePort: number | undefined;

/** The private instance the two-phase commit case creates its tables on (set by the test file). */
export function usePrivateInstance(port: number): void {
  privatePort = port;
}

export const twoPhaseCommitSinkCase: SinkContractCase<PreparedTransactionId> = {
  name: 'PostgresTwoPhaseCommitSink',
  guarantee: 'EXACTLY_ONCE',
  module,
  exportName: 'twoPhaseCommitSinkCase',
  createTarget: async () => {
    if (privatePort === undefined) throw new Error('usePrivateInstance(port) was not called');
    const table = newTableName('tpc');
    // No key: a record written twice shows as two rows.
    await query(parseTarget(`${privatePort}/${table}`).connection, `CREATE TABLE ${table} (record text NOT NULL)`);
    return `${privatePort}/${table}`;
  },
  createSink: (target) => {
    const { connection, table } = parseTarget(target);
    return new PostgresTwoPhaseCommitSink<string>({ connection, sinkId: table, table, columns: ['record'], toRow: (r) => [r], commitRetryDelayMs: 100 });
  },
  readVisible: async (target) => {
    const { connection, table } = parseTarget(target);
    return (await query<{ record: string }>(connection, `SELECT record FROM ${table}`)).map((r) => r.record);
  },
  dropTarget: async (target) => {
    const { connection, table } = parseTarget(target);
    // A job cancelled between a barrier and the checkpoint's completion leaves its last
    // transactions prepared (a restore would roll them back); they hold locks DROP TABLE waits for.
    await rollBackPrepared(connection, table);
    await query(connection, `DROP TABLE IF EXISTS ${table}`);
  },
};

// ---- upsert sink, on the shared server -------------------------------------------------------

export const upsertSinkCase: SinkContractCase = {
  name: 'PostgresUpsertSink keyed by the record',
  guarantee: 'EXACTLY_ONCE',
  module,
  exportName: 'upsertSinkCase',
  createTarget: async () => {
    const table = newTableName('upsert');
    await query(SHARED_SERVER, `CREATE TABLE ${table} (record text PRIMARY KEY, n integer NOT NULL)`);
    return `${SHARED_SERVER.port}/${table}`;
  },
  createSink: (target) => {
    const { connection, table } = parseTarget(target);
    return new PostgresUpsertSink<string>({ connection, table, columns: ['record', 'n'], keyColumns: ['record'], toRow: (r) => [r, Number(r.slice('record-'.length))], batchSize: 200 });
  },
  readVisible: async (target) => {
    const { connection, table } = parseTarget(target);
    return (await query<{ record: string }>(connection, `SELECT record FROM ${table}`)).map((r) => r.record);
  },
  dropTarget: async (target) => {
    const { connection, table } = parseTarget(target);
    await query(connection, `DROP TABLE IF EXISTS ${table}`);
  },
};

// ---- table source, on the shared server ------------------------------------------------------

export const SOURCE_ROWS = 2000;
/** The same name in every worker thread of this process. */
export const SOURCE_TABLE = `weir_source_${process.pid}`;

export interface SourceRow {
  readonly id: number;
  readonly label: string;
}

/** Creates the source case's table: ids 0..SOURCE_ROWS-1 with gaps left by nothing, plus keys outside the bounds. */
export async function createSourceTable(): Promise<void> {
  await query(SHARED_SERVER, `DROP TABLE IF EXISTS ${SOURCE_TABLE}`);
  await query(SHARED_SERVER, `CREATE TABLE ${SOURCE_TABLE} (id integer PRIMARY KEY, label text NOT NULL)`);
  await query(SHARED_SERVER, `INSERT INTO ${SOURCE_TABLE} SELECT i, 'row ' || i FROM generate_series(0, ${SOURCE_ROWS - 1}) AS i`);
}

export async function dropSourceTable(): Promise<void> {
  await query(SHARED_SERVER, `DROP TABLE IF EXISTS ${SOURCE_TABLE}`);
}

export const tableSourceCase: SourceContractCase<SourceRow, PostgresTableSplit> = {
  name: `PostgresTableSource (${SOURCE_ROWS} rows, 5 splits)`,
  module,
  exportName: 'tableSourceCase',
  // Pages come over the network: give a reader time to have its next one.
  idleMs: 250,
  // The bounds leave keys on both sides out of the even ranges: the first and last splits take them.
  create: () =>
    new PostgresTableSource<SourceRow>({
      connection: SHARED_SERVER,
      table: SOURCE_TABLE,
      splitColumn: 'id',
      numSplits: 5,
      lowerBound: 100,
      upperBound: SOURCE_ROWS - 300,
      fetchSize: 250,
      fromRow: (row) => ({ id: row['id'] as number, label: row['label'] as string }),
    }),
  expected: () => Array.from({ length: SOURCE_ROWS }, (_, i) => ({ id: i, label: `row ${i}` })),
};
