/**
 * End to end through real processes: `weir start-cluster` starts a JobManager and a TaskManager
 * process; jobs are submitted, checkpointed, savepointed, stopped and resumed at other
 * parallelisms with the `weir` command, as in the seed's command-line flow. Final keyed results
 * (printed by the jobs into the cluster's log/jobmanager.out) must be exact.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = mkdtempSync(join(tmpdir(), 'weir-lifecycle-'));
const clusterDir = join(root, 'cluster');
const env = { ...process.env, WEIR_CLUSTER_DIR: clusterDir };
const JOB = 'test/jobs/lifecycle-counts.ts';
const N = 30_000;
/**
 * Records per ms per subtask of the jobs that are savepointed, checkpointed, stopped or
 * cancelled while they run: slow enough that they still run after several `weir` commands on a
 * loaded machine (each starts a Node process); they are stopped or cancelled, so it costs no time.
 */
const RATE = '0.5';

function weir(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/weir.mjs', ...args], { encoding: 'utf8', timeout: 120_000, env });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `weir` as a child process that does not block the event loop, so that several can run at once. */
function weirAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/weir.mjs', ...args], { env, timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function ok(...args: string[]): string {
  const r = weir(...args);
  if (r.status !== 0) {
    const log = join(clusterDir, 'log', 'jobmanager.log');
    const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-40).join('\n') : '(no log)';
    assert.fail(`weir ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\njobmanager.log:\n${tail}`);
  }
  return r.stdout;
}

const jobIdOf = (stdout: string): string => {
  const m = /Job has been submitted with JobID ([0-9a-f]{32})/.exec(stdout);
  assert.ok(m, `no job id in: ${stdout}`);
  return m[1]!;
};
const pathOf = (stdout: string): string => {
  const m = /Savepoint completed\. Path: (\S+)/.exec(stdout);
  assert.ok(m, `no savepoint path in: ${stdout}`);
  return m[1]!;
};

/** What every key's totals must be for 1..N. */
function expectedTotals(tag: string): string[] {
  const out: string[] = [];
  for (let k = 0; k < 7; k++) {
    let count = 0;
    let sum = 0;
    for (let n = 1; n <= N; n++) {
      if (n % 7 !== k) continue;
      count++;
      sum += n;
    }
    out.push(`${tag} key=${k} count=${count} sum=${sum}`);
  }
  return out;
}

/** The lines a job tagged `tag` printed (without the subtask prefix), sorted. */
function printed(tag: string): string[] {
  const out = readFileSync(join(clusterDir, 'log', 'jobmanager.out'), 'utf8');
  return out
    .split('\n')
    .map((l) => l.replace(/^\d+> /, ''))
    .filter((l) => l.startsWith(`${tag} `))
    .sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a local cluster through the weir command', () => {
  before(() => {
    const out = ok('start-cluster', '--port', '0', '--slots', '4');
    assert.match(out, /Started a weir cluster: REST API at http:\/\/127\.0\.0\.1:\d+, 4 slot\(s\)/);
    assert.ok(existsSync(join(clusterDir, 'cluster.json')));
  });

  after(() => {
    weir('stop-cluster');
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a second cluster on the same directory', () => {
    const r = weir('start-cluster', '--port', '0');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already running/);
  });

  it('runs detached at p=2, takes a savepoint and a checkpoint, stops with a savepoint, and resumes the relocated savepoint at p=3 and p=1 with exact results', async () => {
    const id = jobIdOf(ok('run', '-d', '-p', '2', JOB, 'A', String(N), RATE));
    assert.match(ok('list'), new RegExp(`: ${id} : lifecycle A \\((RUNNING|CREATED|INITIALIZING)\\)`));
    await sleep(800);
    const sp1 = pathOf(ok('savepoint', id, join(root, 'savepoints')));
    assert.equal(JSON.parse(readFileSync(join(sp1, '_metadata'), 'utf8')).metadata.kind, 'savepoint');
    assert.match(ok('checkpoint', id), new RegExp(`Checkpoint\\(CONFIGURED\\) \\d+ for job ${id} completed\\.`));
    const sp2 = pathOf(ok('stop', '--savepointPath', join(root, 'savepoints'), id));
    assert.match(ok('list'), new RegExp(`: ${id} : lifecycle A \\(FINISHED\\)`));
    assert.deepEqual(printed('A'), [], 'stop without --drain fires no end-of-input timers');

    const moved = join(root, 'moved', 'sp');
    mkdirSync(join(root, 'moved'));
    cpSync(sp2, moved, { recursive: true });
    rmSync(sp2, { recursive: true });

    // The two resumed jobs (3 + 1 of the 4 slots) run side by side: each job's totals are its own,
    // tagged lines. The refused one comes after them: with no slot free it would be refused for that.
    const [b, c] = await Promise.all([
      weirAsync('run', '-p', '3', '-s', moved, JOB, 'B', String(N), '0'),
      weirAsync('run', '-p', '1', '-s', moved, JOB, 'C', String(N), '0'),
    ]);
    assert.equal(b.status, 0, `resumed at p=3: ${b.stderr}`);
    assert.deepEqual(printed('B'), expectedTotals('B'));
    assert.equal(c.status, 0, `resumed at p=1: ${c.stderr}`);
    assert.deepEqual(printed('C'), expectedTotals('C'));

    const refused = weir('run', '-s', moved, JOB, 'D', String(N), '0', 'no-counts');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /counts/);
    ok('run', '-n', '-s', moved, JOB, 'E', String(N), '0', 'no-counts');

    assert.match(ok('savepoint', '-d', sp1), /disposed/);
    assert.equal(existsSync(sp1), false);

    // The TaskManager removes a job's modules once the job has ended.
    const stored = join(clusterDir, 'taskmanager', 'jobs', id);
    for (let i = 0; i < 50 && existsSync(stored); i++) await sleep(100);
    assert.equal(existsSync(stored), false, `${stored} is still there after the job ended`);
  });

  it('resumes from a retained checkpoint (-s chk-N) like from a savepoint', async () => {
    const id = jobIdOf(ok('run', '-d', '-p', '2', JOB, 'F', String(N), RATE));
    await sleep(500);
    const m = /Checkpoint\(FULL\) (\d+) for job/.exec(ok('checkpoint', '--full', id));
    assert.ok(m);
    ok('cancel', id);
    assert.match(ok('list'), new RegExp(`: ${id} : lifecycle F \\(CANCELED\\)`));
    // The newest checkpoint is retained (num-retained 1): the triggered one or a later one.
    const jobDir = join(tmpdir(), 'weir-checkpoints', id);
    const retained = readdirSync(jobDir).filter((d) => d.startsWith('chk-'));
    assert.equal(retained.length, 1, `one checkpoint retained on cancellation: ${retained.join(', ')}`);
    assert.ok(Number(retained[0]!.slice(4)) >= Number(m[1]));
    const chk = join(jobDir, retained[0]!);
    ok('run', '-p', '1', '-s', chk, JOB, 'G', String(N), '0');
    assert.deepEqual(printed('G'), expectedTotals('G'));
    rmSync(join(tmpdir(), 'weir-checkpoints', id), { recursive: true, force: true });
  });

  it('answers errors with one clear line and the right exit code', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const unknown = 'ffffffffffffffffffffffffffffffff';
    // Every command below is its own process and none changes the cluster: they run side by side.
    const verbs = ['run', 'list', 'cancel', 'savepoint', 'stop', 'checkpoint', 'start-cluster', 'stop-cluster'];
    const unknownJob = [['cancel', unknown], ['savepoint', unknown], ['stop', unknown], ['checkpoint', unknown]];
    const [unknowns, [bad, none, noMeta, missing], helps] = await Promise.all([
      Promise.all(unknownJob.map((args) => weirAsync(...args))),
      Promise.all([
        weirAsync('cancel', 'not-a-job'),
        weirAsync('list', '-m', `127.0.0.1:${closedPort}`),
        weirAsync('savepoint', '-d', root),
        weirAsync('run', '-s', join(root, 'nowhere'), JOB, 'H', '10', '0'),
      ]),
      Promise.all(verbs.map((verb) => weirAsync(verb, '--help'))),
    ]);
    unknowns.forEach((r, i) => {
      const args = unknownJob[i]!.join(' ');
      assert.equal(r.status, 1, args);
      assert.match(r.stderr, /unknown job/, args);
    });
    assert.equal(bad!.status, 2);
    assert.match(bad!.stderr, /not a job id/);
    assert.equal(none!.status, 1);
    assert.match(none!.stderr, /no weir cluster at/);
    assert.equal(noMeta!.status, 1);
    assert.match(noMeta!.stderr, /is not a checkpoint or savepoint directory: no _metadata/);
    assert.equal(missing!.status, 1);
    assert.match(missing!.stderr, /does not exist/);
    helps.forEach((h, i) => {
      assert.equal(h.status, 0, verbs[i]);
      assert.match(h.stdout, new RegExp(`Usage: weir ${verbs[i]}`));
    });
  });
});

describe('without a cluster', () => {
  it('`run -d` fails clearly and `stop-cluster` says none runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-nocluster-'));
    try {
      const e = { ...process.env, WEIR_CLUSTER_DIR: dir };
      const r = spawnSync(process.execPath, ['bin/weir.mjs', 'run', '-d', JOB, 'X', '10', '0'], { encoding: 'utf8', env: e });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /needs a running cluster/);
      const s = spawnSync(process.execPath, ['bin/weir.mjs', 'stop-cluster'], { encoding: 'utf8', env: e });
      assert.equal(s.status, 0);
      assert.match(s.stdout, /No weir cluster is running/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
