/**
 * The end-to-end exactly-once example, run as a user would run it: payments published to a real
 * JetStream stream, the job under `weir run` writing to a real PostgreSQL by two-phase commit,
 * the whole process killed with SIGKILL mid-stream, resumed with `weir run -s <checkpoint dir>`,
 * and the example's own check run on what PostgreSQL holds: every payment charged exactly once,
 * every balance right, no prepared transaction left behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/checkpoint/filesystem-checkpoint-storage.ts';
import { JobProcess } from '../../src/testing/index.ts';
import { hasCompletedCheckpoint } from '../contracts/sink.contract.ts';
import { NATS_URL, NatsTestAdmin, requireNats, uniqueStreamName } from '../support/nats.ts';
import { postgresBinaries, query, startPrivateInstance, unavailable, type PrivateInstance } from '../support/postgres.ts';

const run = promisify(execFile);

/** Whether the newest completed checkpoint under `dir` (`<job>/chk-<n>/_metadata`) lists change log segments. */
async function newestListsChangeLog(dir: string): Promise<boolean> {
  let newest: { n: number; path: string } | undefined;
  for (const job of existsSync(dir) ? readdirSync(dir) : []) {
    for (const chk of existsSync(join(dir, job)) ? readdirSync(join(dir, job)) : []) {
      const n = Number(/^chk-(\d+)$/.exec(chk)?.[1] ?? Number.NaN);
      if (!Number.isNaN(n) && existsSync(join(dir, job, chk, '_metadata')) && (newest === undefined || n > newest.n)) newest = { n, path: join(dir, job, chk) };
    }
  }
  if (newest === undefined) return false;
  try {
    const { metadata } = await loadCheckpoint(newest.path);
    return metadata.operators.some((o) => o.subtasks.some((t) => (t?.files ?? []).some((f) => f.path.endsWith('.clog'))));
  } catch {
    return false; // deleted meanwhile (a newer one completed)
  }
}
const JOB = 'examples/end-to-end-exactly-once.ts';
const SETUP = 'examples/end-to-end-exactly-once-setup.ts';
const EVENTS = 20000;

const natsOk = await requireNats('the end-to-end exactly-once example');
const binaries = natsOk ? await postgresBinaries() : undefined;
if (natsOk && binaries === undefined) unavailable('the end-to-end exactly-once example', 'the PostgreSQL server binaries (initdb, pg_ctl) are not installed');

if (natsOk && binaries !== undefined) {
  describe('examples/end-to-end-exactly-once.ts', () => {
    let server: PrivateInstance;
    let url: string;
    const stream = uniqueStreamName('payments').toUpperCase();
    const dir = mkdtempSync(join(tmpdir(), 'weir-e2e-example-'));
    before(async () => {
      server = await startPrivateInstance({ max_prepared_transactions: 10 });
      url = `postgres://postgres@127.0.0.1:${server.port}/postgres`;
    });
    after(async () => {
      const admin = await NatsTestAdmin.open();
      await admin.deleteStream(stream).catch(() => {});
      await admin.close();
      await server?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    // On the heap backend, on RocksDB with incremental checkpoints (the balances then come back from
    // the newest retained checkpoint's SST files) and with the change log (from its change log
    // segments replayed over the first checkpoint's SST files: the kill waits for such a checkpoint).
    const backends: Record<string, Readonly<Record<string, string | boolean>>> = {
      heap: {},
      'rocksdb-incremental': { 'state.backend.type': 'rocksdb', 'state.backend.incremental': true },
      'rocksdb-changelog': { 'state.backend.type': 'rocksdb', 'state.backend.changelog.enabled': true },
    };
    for (const [name, backend] of Object.entries(backends)) {
      it(`killed with SIGKILL mid-stream and resumed with weir run -s: every payment charged exactly once (${name} state)`, async () => {
        const checkpoints = join(dir, name);
        const common = ['--nats', NATS_URL, '--stream', stream, '--pg', url, '--table', 'charges'];
        // The change log's first log checkpoint is its second: more events, so that the stream is
        // still far from its end when that checkpoint is found and the process killed.
        const events = name === 'rocksdb-changelog' ? 3 * EVENTS : EVENTS;
        await run(process.execPath, ['bin/node-ts.mjs', SETUP, '--reset', '--events', String(events), ...common]);
        const count = async (): Promise<number> => Number((await query<{ n: string }>(server.connection, 'SELECT count(*) AS n FROM charges'))[0]!.n);
        // The first run reads on (unbounded), so it is always killed mid-job.
        const first = JobProcess.start(JOB, {
          args: [...common, '--interval', '100', '--unbounded'],
          parallelism: 2,
          config: { 'state.checkpoints.dir': checkpoints, ...backend },
        });
        try {
          const restorable = async (): Promise<boolean> => (name === 'rocksdb-changelog' ? await newestListsChangeLog(checkpoints) : hasCompletedCheckpoint(checkpoints));
          await first.waitFor(async () => (await restorable()) && (await count()) > 0, 'a checkpoint completed and charges were committed', 60_000);
        } finally {
          await first.kill('SIGKILL');
        }
        const atKill = await count();
        assert.ok(atKill < events, `the process was killed mid-stream (${atKill} of ${events} charges committed)`);
        const second = JobProcess.start(JOB, { args: [...common, '--interval', '100'], parallelism: 2, fromSavepoint: checkpoints, config: backend });
        const exit = await second.succeeded(60_000);
        assert.match(exit.stderr, /restoring from .*chk-\d+/);
        const check = await run(process.execPath, ['bin/node-ts.mjs', SETUP, '--check', '--events', String(events), ...common]);
        assert.match(check.stdout, /exactly once: every payment charged once, every balance right/, check.stdout);
        assert.equal(await count(), events);
        assert.deepEqual(await query(server.connection, 'SELECT gid FROM pg_prepared_xacts'), [], 'no prepared transaction left behind');
      });
    }
  });
}
