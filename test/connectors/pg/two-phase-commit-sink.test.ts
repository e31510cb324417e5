/**
 * PostgresTwoPhaseCommitSink beyond the contract suite: the errors it gives for a server without
 * prepared transactions and for a missing table, the rule by which a starting writer rolls back
 * lingering prepared transactions (driven by hand, then through a killed process resumed from its
 * checkpoints), idempotent and retried commits, and a server that goes down during a job. Every
 * exactly-once check compares the table with the input exactly, and checks that no prepared
 * transaction is left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CommitRequest, SinkWriterContext, SinkWriterElementContext } from 'weir';
import { PostgresTableNotFoundError, PostgresTwoPhaseCommitSink, PreparedTransactionsDisabledError, PostgresUpsertSink } from 'weir/connectors/pg';
import { runJob, startJob } from 'weir/testing';
import { postgresBinaries, query, SHARED_SERVER, sharedServerProblem, startPrivateInstance, unavailable, type PrivateInstance } from '../../support/postgres.ts';
import type { JobOptions } from './fixtures/two-phase-commit-job.ts';

const JOB = fileURLToPath(new URL('./fixtures/two-phase-commit-job.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function writerContext(subtask: number, parallelism: number, restoredCheckpointId?: number): SinkWriterContext {
  return {
    getJobId: () => 'test-job',
    getSubtaskIndex: () => subtask,
    getNumberOfParallelSubtasks: () => parallelism,
    getAttemptNumber: () => 0,
    isRestored: () => restoredCheckpointId !== undefined,
    getRestoredCheckpointId: () => restoredCheckpointId,
    getRecoverySettings: () => ({ checkpointIntervalMs: undefined, restartStrategy: { kind: 'none' } }),
    getRestoredState: () => [],
    currentProcessingTime: () => 0,
  };
}

const element: SinkWriterElementContext = { timestamp: () => undefined, currentWatermark: () => -Infinity, recordId: () => 'unused' };

type Outcome = 'committed' | 'already-committed' | 'retry' | 'failed';

/** Commit requests that record what the committer signalled. */
function requests(gids: readonly string[]): { requests: CommitRequest<string>[]; outcomes: Outcome[] } {
  const outcomes: Outcome[] = gids.map(() => 'committed');
  const signal = (i: number, outcome: Outcome) => (): void => {
    outcomes[i] = outcome;
  };
  const requests = gids.map(
    (gid, i): CommitRequest<string> => ({
      getCommittable: () => gid,
      getNumberOfRetries: () => 0,
      signalFailedWithKnownReason: signal(i, 'failed'),
      signalFailedWithUnknownReason: signal(i, 'failed'),
      retryLater: signal(i, 'retry'),
      updateAndRetryLater: signal(i, 'retry'),
      signalAlreadyCommitted: signal(i, 'already-committed'),
    }),
  );
  return { requests, outcomes };
}

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

describe('PostgresTwoPhaseCommitSink without a server', () => {
  it('refuses a sinkId that cannot name transactions', () => {
    for (const sinkId of ['', 'has space', 'colon:inside', "quote'", 'x'.repeat(121)]) {
      assert.throws(() => new PostgresTwoPhaseCommitSink<string>({ connection: SHARED_SERVER, sinkId, table: 't', columns: ['c'], toRow: (r) => [r] }), /sinkId must be/);
    }
  });

});

// ---- the shared server: no prepared transactions --------------------------------------------

const sharedProblem = await sharedServerProblem();
describe('PostgresTwoPhaseCommitSink on a server with max_prepared_transactions = 0', () => {
  if (sharedProblem !== undefined) {
    unavailable('the max_prepared_transactions error', sharedProblem);
    return;
  }
  it('the writer refuses to start, saying what to change', async () => {
    const table = `weir_tpc_disabled_${process.pid}`;
    await query(SHARED_SERVER, `CREATE TABLE IF NOT EXISTS ${table} (record text)`);
    try {
      const setting = (await query<{ max_prepared_transactions: string }>(SHARED_SERVER, 'SHOW max_prepared_transactions'))[0]?.max_prepared_transactions;
      assert.equal(setting, '0', 'the shared server runs without prepared transactions');
      const sink = new PostgresTwoPhaseCommitSink<string>({ connection: SHARED_SERVER, sinkId: table, table, columns: ['record'], toRow: (r) => [r] });
      await assert.rejects(sink.createWriter(writerContext(0, 1)), (e: unknown) => {
        assert.ok(e instanceof PreparedTransactionsDisabledError, String(e));
        assert.match(e.message, /max_prepared_transactions = 0/);
        assert.match(e.message, /ALTER SYSTEM SET max_prepared_transactions = 20/);
        assert.match(e.message, /postgresql\.conf/);
        assert.match(e.message, /restart/);
        return true;
      });
    } finally {
      await query(SHARED_SERVER, `DROP TABLE IF EXISTS ${table}`);
    }
  });
});

// ---- a private instance with prepared transactions ------------------------------------------

let instance: PrivateInstance | undefined;
let privateProblem: string | undefined;
if ((await postgresBinaries()) === undefined) privateProblem = 'the PostgreSQL server binaries (initdb, pg_ctl) are not installed';
else {
  try {
    instance = await startPrivateInstance({ max_prepared_transactions: 20 });
  } catch (e) {
    privateProblem = `a private PostgreSQL instance did not start: ${(e as Error).message}`;
  }
}
if (instance !== undefined) {
  const started = instance;
  after(() => started.destroy());
}

describe('PostgresTwoPhaseCommitSink on a private instance', () => {
  if (instance === undefined) {
    unavailable('PostgresTwoPhaseCommitSink recovery', privateProblem ?? 'no private instance');
    return;
  }
  const pg = instance;
  const connection = pg.connection;
  let tables = 0;
  const newTable = async (): Promise<string> => {
    const table = `weir_tpc_${++tables}`;
    await query(connection, `CREATE TABLE ${table} (record text NOT NULL)`);
    return table;
  };
  const contents = async (table: string): Promise<string[]> => (await query<{ record: string }>(connection, `SELECT record FROM ${table} ORDER BY record`)).map((r) => r.record);
  const prepared = async (): Promise<string[]> => (await query<{ gid: string }>(connection, 'SELECT gid FROM pg_prepared_xacts ORDER BY gid')).map((r) => r.gid);
  const sinkFor = (table: string): PostgresTwoPhaseCommitSink<string> => new PostgresTwoPhaseCommitSink<string>({ connection, sinkId: table, table, columns: ['record'], toRow: (r) => [r] });

  before(async () => {
    assert.deepEqual(await prepared(), [], 'no prepared transaction before the tests');
  });

  it('a missing table is named when the writer starts (two-phase commit and upsert sinks)', async () => {
    const tpc = new PostgresTwoPhaseCommitSink<string>({ connection, sinkId: 'missing', table: 'no_such_table', columns: ['record'], toRow: (r) => [r] });
    await assert.rejects(tpc.createWriter(writerContext(0, 1)), (e: unknown) => e instanceof PostgresTableNotFoundError && /"no_such_table" does not exist/.test(e.message));
    const upsert = new PostgresUpsertSink<string>({ connection, table: 'public.no_such_table', columns: ['record'], keyColumns: ['record'], toRow: (r) => [r] });
    await assert.rejects(upsert.createWriter(writerContext(0, 1) as SinkWriterContext<never>), (e: unknown) => e instanceof PostgresTableNotFoundError && /"public"\."no_such_table" does not exist/.test(e.message));
  });

  it('restored at p=1 from a checkpoint taken at p=2, a writer rolls back what came after the checkpoint and leaves its committables to the committer', async () => {
    const table = await newTable();
    const sink = sinkFor(table);
    // Two subtasks write and prepare at the barrier of checkpoint 7; the checkpoint completes, but
    // the process dies before the commit, after both prepared again and one began a third transaction.
    const w0 = await sink.createWriter(writerContext(0, 2));
    const w1 = await sink.createWriter(writerContext(1, 2));
    for (const r of range('a', 0, 5)) await w0.write(r, element);
    for (const r of range('b', 0, 5)) await w1.write(r, element);
    const checkpoint7 = [...(await w0.prepareCommit()), ...(await w1.prepareCommit())];
    w0.snapshotState(7);
    w1.snapshotState(7);
    for (const r of range('a', 5, 10)) await w0.write(r, element);
    for (const r of range('b', 5, 10)) await w1.write(r, element);
    const afterCheckpoint = [...(await w0.prepareCommit()), ...(await w1.prepareCommit())];
    await w1.write('b10', element);
    await w1.flush(false);
    await w0.close();
    await w1.close();
    assert.equal(checkpoint7.length, 2);
    assert.deepEqual(await prepared(), [...checkpoint7, ...afterCheckpoint].sort(), 'four transactions prepared');
    assert.deepEqual(await contents(table), [], 'nothing visible before a commit');

    // The restore of checkpoint 7 at p=1; the committer commits the checkpoint's committables.
    const restored = await sink.createWriter(writerContext(0, 1, 7));
    assert.deepEqual(await prepared(), [...checkpoint7].sort(), 'the transactions prepared after checkpoint 7 were rolled back, its own were left');
    const committer = sink.createCommitter({ getJobId: () => 'j', getSubtaskIndex: () => 0, getNumberOfParallelSubtasks: () => 1, getAttemptNumber: () => 1 });
    const first = requests(checkpoint7);
    await committer.commit(first.requests);
    assert.deepEqual(first.outcomes, ['committed', 'committed']);
    // Committed again (a restore after a failure that followed the commit): nothing changes.
    const again = requests(checkpoint7);
    await committer.commit(again.requests);
    assert.deepEqual(again.outcomes, ['already-committed', 'already-committed']);

    // The replay of what followed the checkpoint, then its commit.
    for (const r of [...range('a', 5, 10), ...range('b', 5, 11)]) await restored.write(r, element);
    const next = await restored.prepareCommit();
    assert.equal(next.length, 1);
    await committer.commit(requests(next).requests);
    await restored.close();
    await committer.close();
    assert.deepEqual(await contents(table), [...range('a', 0, 10), ...range('b', 0, 11)].sort(), 'every record exactly once');
    assert.deepEqual(await prepared(), [], 'no prepared transaction left');
  });

  it('a fresh start (nothing restored) rolls back every prepared transaction of the sink its subtask is responsible for', async () => {
    const table = await newTable();
    const sink = sinkFor(table);
    const old = await Promise.all([0, 1, 2].map((s) => sink.createWriter(writerContext(s, 3))));
    const gids: string[] = [];
    for (const [s, w] of old.entries()) {
      await w.write(`old-${s}`, element);
      gids.push(...(await w.prepareCommit()));
      await w.close();
    }
    assert.equal((await prepared()).length, 3);
    // At p=2, subtask 0 takes old subtasks 0 and 2, subtask 1 takes old subtask 1.
    const w0 = await sink.createWriter(writerContext(0, 2));
    assert.deepEqual(await prepared(), [gids[1]!]);
    const w1 = await sink.createWriter(writerContext(1, 2));
    assert.deepEqual(await prepared(), []);
    await w0.close();
    await w1.close();
    assert.deepEqual(await contents(table), []);
  });

  it('a writeBatch hook writes inside the transaction: nothing is visible before COMMIT PREPARED, everything after', async () => {
    const table = await newTable();
    const sink = new PostgresTwoPhaseCommitSink<string>({
      connection,
      sinkId: table,
      table,
      writeBatch: async (client, batch) => {
        await client.query(`INSERT INTO ${table} (record) SELECT unnest($1::text[])`, [batch]);
      },
      batchSize: 3,
    });
    const w = await sink.createWriter(writerContext(0, 1));
    for (const r of range('h', 0, 7)) await w.write(r, element);
    const gids = await w.prepareCommit();
    await w.close();
    assert.deepEqual(await contents(table), [], 'prepared, not visible');
    const committer = sink.createCommitter({ getJobId: () => 'j', getSubtaskIndex: () => 0, getNumberOfParallelSubtasks: () => 1, getAttemptNumber: () => 0 });
    const r = requests(gids);
    await committer.commit(r.requests);
    await committer.close();
    assert.deepEqual(r.outcomes, ['committed']);
    assert.deepEqual(await contents(table), range('h', 0, 7).sort());
    assert.deepEqual(await prepared(), []);
  });

  it('commits while the server is down are retried later, never dropped, and succeed once it is back', async () => {
    const table = await newTable();
    const sink = sinkFor(table);
    const w = await sink.createWriter(writerContext(0, 1));
    for (const r of range('r', 0, 10)) await w.write(r, element);
    const gids = await w.prepareCommit();
    await w.close();
    const committer = sink.createCommitter({ getJobId: () => 'j', getSubtaskIndex: () => 0, getNumberOfParallelSubtasks: () => 1, getAttemptNumber: () => 0 });
    await pg.crash();
    try {
      const down = requests(gids);
      await committer.commit(down.requests);
      assert.deepEqual(down.outcomes, ['retry'], 'an unreachable server means retry later');
    } finally {
      await pg.start();
    }
    const back = requests(gids);
    await committer.commit(back.requests);
    assert.deepEqual(back.outcomes, ['committed']);
    await committer.close();
    assert.deepEqual(await contents(table), range('r', 0, 10).sort());
    assert.deepEqual(await prepared(), []);
  });

  it('a process killed with transactions prepared and not committed: the resumed job commits or rolls them back, and the table holds the input exactly', async () => {
    const table = await newTable();
    const dir = mkdtempSync(join(tmpdir(), 'weir-pg-checkpoints-'));
    const count = 2000;
    try {
      const options: JobOptions = { port: pg.port, table, count, perMs: 0.5, bounded: false, interval: 100, dir, commitDelayMs: 300 };
      const child = spawn(process.execPath, ['--import', 'tsx', JOB, JSON.stringify(options)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Kill it once some records are committed and later transactions wait for their commit.
      const deadline = Date.now() + 60_000;
      let lingering: string[] = [];
      for (;;) {
        const visible = (await query<{ n: string }>(connection, `SELECT count(*) AS n FROM ${table}`))[0]!.n;
        lingering = (await prepared()).filter((g) => g.startsWith(`weir:${table}:`));
        if (Number(visible) > 0 && lingering.length > 0) break;
        const code = await Promise.race([exited, delay(20).then(() => 'running' as const)]);
        if (code !== 'running') assert.fail(`the job process ended (${code}) before the test killed it: ${stderr}`);
        if (Date.now() > deadline) assert.fail(`no committed records with prepared transactions behind them within 60 s: ${stderr}`);
      }
      child.kill('SIGKILL');
      await exited;
      const left = (await prepared()).filter((g) => g.startsWith(`weir:${table}:`));
      assert.ok(left.length > 0, 'the killed process left prepared transactions behind');
      const before = await contents(table);
      assert.ok(before.length < count, `the killed run had not written everything (${before.length} of ${count} visible)`);

      // Resume from its newest checkpoint at p=1, bounded: the restore commits the committables the
      // checkpoint holds, the writer rolls back the rest, and the final checkpoint commits the tail.
      const resumed: JobOptions = { ...options, bounded: true, perMs: Infinity, interval: 50, commitDelayMs: 0, dir: join(dir, 'resumed') };
      await runJob(JOB, { args: [JSON.stringify(resumed)], parallelism: 1, mode: 'inline', config: { 'execution.savepoint.path': dir } });
      const after = await contents(table);
      assert.deepEqual(after, range('record-', 0, count).sort(), `every record exactly once (${after.length} rows for ${count} records)`);
      assert.deepEqual(await prepared(), [], 'no prepared transaction left');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the server stopped (pg_ctl stop -m immediate) during a job and started again: the job recovers and ends with the input exactly once', async () => {
    const table = await newTable();
    const count = 2000;
    // Two seconds of input per subtask: the server goes down well before the end.
    const options: JobOptions = { port: pg.port, table, count, perMs: 0.5, bounded: true, interval: 50, restarts: 100 };
    const client = await startJob(JOB, { args: [JSON.stringify(options)], parallelism: 2, mode: 'inline' });
    const result = client.getJobExecutionResult();
    result.catch(() => {});
    const visible = async (): Promise<number> => Number((await query<{ n: string }>(connection, `SELECT count(*) AS n FROM ${table}`))[0]!.n);
    const deadline = Date.now() + 30_000;
    while ((await visible()) < 100) {
      assert.ok(Date.now() < deadline, 'records became visible');
      await delay(20);
    }
    await pg.crash();
    await delay(800);
    await pg.start();
    await result;
    assert.ok((await client.getNumRestarts()) >= 1, 'the stopped server failed the job at least once');
    assert.deepEqual(await contents(table), range('record-', 0, count).sort(), 'every record exactly once');
    assert.deepEqual(await prepared(), [], 'no prepared transaction left');
  });
});
