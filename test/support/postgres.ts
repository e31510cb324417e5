/**
 * PostgreSQL for tests: the shared server (127.0.0.1:5432, database `test`, trust auth) and
 * private instances started from the PostgreSQL binaries, for what the shared server does not
 * allow (prepared transactions: it runs with max_prepared_transactions = 0) or must not suffer
 * (being stopped during a test).
 *
 * When a server or the binaries are missing, tests skip with the reason, except under CI=true,
 * where they fail with it: a CI run that silently skipped them would prove nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const SHARED_SERVER: pg.ClientConfig = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

export const inCI = process.env['CI'] === 'true';

/** Runs one query on a fresh connection. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(connection: pg.ClientConfig, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ ...connection, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Why the shared server cannot be used, or undefined when it answers. */
export async function sharedServerProblem(): Promise<string | undefined> {
  try {
    await query(SHARED_SERVER, 'SELECT 1');
    return undefined;
  } catch (e) {
    return `the PostgreSQL server at 127.0.0.1:5432 (database test, user postgres) does not answer: ${(e as Error).message}`;
  }
}

/**
 * Declares one test standing for a suite that cannot run: it fails under CI=true and is skipped
 * otherwise, with the reason either way.
 */
export function unavailable(what: string, reason: string): void {
  if (inCI) {
    it(`${what}: needs PostgreSQL`, () => {
      assert.fail(`${reason} (CI=true: PostgreSQL must be available, so this fails instead of skipping)`);
    });
  } else {
    it(`${what}: needs PostgreSQL`, { skip: reason }, () => {});
  }
}

/** The directory of initdb and pg_ctl, or undefined. */
export async function postgresBinaries(): Promise<string | undefined> {
  const candidates = ['/usr/lib/postgresql/15/bin'];
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    candidates.push(stdout.trim());
  } catch {
    // No pg_config on the PATH: the usual place only.
  }
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface PrivateInstance {
  readonly port: number;
  readonly connection: pg.ClientConfig;
  /** Stops the server at once, as a crash would (`pg_ctl stop -m immediate`); prepared transactions survive. */
  crash(): Promise<void>;
  /** Starts it again after crash(). */
  start(): Promise<void>;
  /** Stops it for good and deletes its directory. */
  destroy(): Promise<void>;
}

/**
 * Starts a private PostgreSQL server in a temporary directory, on a free port of 127.0.0.1, with
 * the given settings (e.g. max_prepared_transactions). initdb refuses to run as root, so under
 * root the server runs as the `postgres` user, which then owns the directory.
 */
export async function startPrivateInstance(settings: Record<string, string | number> = {}): Promise<PrivateInstance> {
  const bin = await postgresBinaries();
  if (bin === undefined) throw new Error('the PostgreSQL server binaries (initdb, pg_ctl) are not installed: looked in /usr/lib/postgresql/15/bin and pg_config --bindir');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'weir-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    const { stdout: g } = await run('id', ['-g', 'postgres']);
    chownSync(dir, uid, Number(g.trim()));
  }
  const as = (command: string, args: string[]): Promise<{ stdout: string }> => (asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args));
  const data = join(dir, 'data');
  const port = await freePort();
  const options = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  const start = async (): Promise<void> => {
    await as(join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
  };
  const stop = async (): Promise<void> => {
    await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  try {
    await as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    connection: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' },
    crash: stop,
    start,
    destroy: async () => {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
