/**
 * What the PostgreSQL connectors share: how they connect, how they name tables and columns in
 * SQL, and which errors are worth retrying.
 */
import pg from 'pg';

/** A connection string (`postgres://user@host:port/db`) or the options of node-postgres' `Client`. */
export type PostgresConnection = string | pg.ClientConfig;

/** A new, not yet connected client for `connection`. */
export function newClient(connection: PostgresConnection): pg.Client {
  return new pg.Client(typeof connection === 'string' ? { connectionString: connection } : connection);
}

/** A connected client; the connection attempt's error is thrown as is. */
export async function connect(connection: PostgresConnection): Promise<pg.Client> {
  const client = newClient(connection);
  // A server that goes away while the client is idle emits 'error' on it; without a listener that
  // would crash the process. The next query on the client fails and is handled there.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Ends a client, ignoring a connection that is already gone. */
export async function endQuietly(client: pg.Client | undefined): Promise<void> {
  if (client === undefined) return;
  try {
    await client.end();
  } catch {
    // The connection is gone already; nothing to release.
  }
}

/** `"name"`, or `"schema"."name"` for a dotted name: each part quoted as an identifier. */
export function quoteQualified(name: string): string {
  return name
    .split('.')
    .map((part) => quoteIdentifier(part))
    .join('.');
}

export function quoteIdentifier(name: string): string {
  if (name.length === 0) throw new Error('an empty SQL identifier');
  return `"${name.replaceAll('"', '""')}"`;
}

/** A string as an SQL literal (PREPARE TRANSACTION and COMMIT PREPARED take no parameters). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Where a connection points, for error messages (never the password). */
export function describeConnection(connection: PostgresConnection): string {
  if (typeof connection === 'string') {
    try {
      const url = new URL(connection);
      return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
    } catch {
      return 'the configured server';
    }
  }
  const host = connection.host ?? process.env['PGHOST'] ?? 'localhost';
  const port = connection.port ?? (Number(process.env['PGPORT']) || 5432);
  const database = connection.database ?? process.env['PGDATABASE'] ?? connection.user ?? 'postgres';
  return `${host}:${port}/${database}`;
}

/** The SQLSTATE of a server error, or the system error code of a socket error. */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** SQLSTATE 42704 (undefined_object): e.g. COMMIT PREPARED of a gid that is not prepared. */
export const UNDEFINED_OBJECT = '42704';
/** SQLSTATE 42P01 (undefined_table). */
export const UNDEFINED_TABLE = '42P01';

const TRANSIENT_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Server states that pass: shutting down, starting up, too many connections, out of resources. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53000', '53100', '53200']);

/**
 * Whether an error says the server is unreachable or going away for now (refused or dropped
 * connections, shutdown, start-up, too many connections), so the same request may succeed
 * later; everything else (syntax, missing objects, constraint violations) will not.
 */
export function isTransientError(e: unknown): boolean {
  const code = errorCode(e);
  if (code !== undefined && (TRANSIENT_SOCKET_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  const message = e instanceof Error ? e.message : String(e);
  return /Connection terminated|not queryable|connection error|ECONNREFUSED|ECONNRESET|socket hang up/i.test(message);
}

/** Throws a clear error naming the table when it does not exist. */
export async function requireTable(client: pg.ClientBase, table: string, who: string, where: string): Promise<void> {
  const { rows } = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [quoteQualified(table)]);
  if (rows[0]?.found == null) throw new PostgresTableNotFoundError(`${who}: table ${quoteQualified(table)} does not exist in ${where}; create it before the job starts`);
}

export class PostgresTableNotFoundError extends Error {
  override readonly name = 'PostgresTableNotFoundError';
}

/** Rethrows an error of a statement on `table` with the table named when it is a missing-table error. */
export function explainTableError(e: unknown, table: string, who: string): unknown {
  if (errorCode(e) === UNDEFINED_TABLE) return new PostgresTableNotFoundError(`${who}: table ${quoteQualified(table)} does not exist (${(e as Error).message})`, { cause: e });
  return e;
}
