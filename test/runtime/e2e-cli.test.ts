/**
 * End to end: the `weir` command. Runs bin/weir.mjs as a child process and checks exit codes
 * and output: 0 for a finished job, 1 for a failed one, 2 for usage errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

const TIMEOUT_MS = 30_000;

/**
 * Runs the CLI to its end: exit status and output. Asynchronous, so that the cases of a group run
 * two at a time (each is a process of its own); one killed at the time limit has status null.
 */
function weir(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bin/weir.mjs', ...args], { encoding: 'utf8', timeout: TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number' && !error.killed) {
        reject(error);
        return;
      }
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

const concurrently = { concurrency: 2 };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const LINE = /^用户访问统计(?::([12]))?> (Mary|Alice|Bob|Cary) 访问次数: (\d+)$/;

/** Checks the visit-count output: `events` lines whose counts run 1..n per user, in order. */
function checkVisitCounts(stdout: string, events: number, parallel: boolean): void {
  const lines = stdout.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, events, `expected ${events} lines, got:\n${stdout}`);
  const seen = new Map<string, number[]>();
  const subtaskOf = new Map<string, string | undefined>();
  for (const line of lines) {
    const m = LINE.exec(line);
    assert.ok(m, `unexpected line: ${JSON.stringify(line)}`);
    const [, subtask, user, count] = m;
    if (parallel) assert.ok(subtask !== undefined, `no subtask prefix at parallelism 2: ${line}`);
    else assert.equal(subtask, undefined, `subtask prefix at parallelism 1: ${line}`);
    if (subtaskOf.has(user!)) assert.equal(subtask, subtaskOf.get(user!), `${user} printed by two subtasks`);
    subtaskOf.set(user!, subtask);
    seen.set(user!, [...(seen.get(user!) ?? []), Number(count)]);
  }
  for (const [user, counts] of seen) {
    assert.deepEqual(counts, Array.from({ length: counts.length }, (_, i) => i + 1), `${user}: counts ${counts}`);
  }
}

describe('weir run: the visit-count example', concurrently, () => {
  it('`weir run examples/user-visit-count.ts 6 10 2` (parallelism from the job’s argument) prints 6 counts, 1..n per user', async () => {
    const r = await weir('run', 'examples/user-visit-count.ts', '6', '10', '2');
    assert.equal(r.status, 0, r.stderr);
    checkVisitCounts(r.stdout, 6, true);
  });

  it('`weir run -p 2 examples/user-visit-count.ts 6 10` runs at parallelism 2', async () => {
    const r = await weir('run', '-p', '2', 'examples/user-visit-count.ts', '6', '10');
    assert.equal(r.status, 0, r.stderr);
    checkVisitCounts(r.stdout, 6, true);
  });

  it('`weir run --inline examples/user-visit-count.ts 5 0` runs on one thread at parallelism 1', async () => {
    const r = await weir('run', '--inline', 'examples/user-visit-count.ts', '5', '0');
    assert.equal(r.status, 0, r.stderr);
    checkVisitCounts(r.stdout, 5, false);
  });
});

describe('weir: usage', concurrently, () => {
  it('`weir --help` exits 0 with the usage', async () => {
    const r = await weir('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: weir/);
    assert.match(r.stdout, /run \[options\]/);
  });

  it('`weir run --help` exits 0 with the usage', async () => {
    const r = await weir('run', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--parallelism/);
  });

  it('`weir` alone prints the usage and exits 2', async () => {
    const r = await weir();
    assert.equal(r.status, 2);
    assert.match(r.stdout, /Usage: weir/);
  });

  it('`weir run <missing file>` exits 2 naming the file', async () => {
    const r = await weir('run', 'test/jobs/no-such-job.ts');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /job file not found: .*no-such-job\.ts/);
    assert.match(r.stderr, /Usage: weir/);
  });

  it('`weir run` without a file exits 2 saying a job file is needed', async () => {
    const r = await weir('run');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /run needs a job file/);
  });

  it('bad options exit 2 naming the option', async () => {
    const p = await weir('run', '-p', 'zero', 'examples/user-visit-count.ts');
    assert.equal(p.status, 2);
    assert.match(p.stderr, /-p needs a positive integer, got zero/);
    const d = await weir('run', '-D', 'no.such.key=1', 'examples/user-visit-count.ts');
    assert.equal(d.status, 2);
    assert.match(d.stderr, /unknown configuration key "no\.such\.key"/);
    const c = await weir('frobnicate');
    assert.equal(c.status, 2);
    assert.match(c.stderr, /unknown command "frobnicate"/);
  });

  it('`weir --version` prints the package version', async () => {
    const r = await weir('--version');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^weir \d+\.\d+\.\d+/);
  });
});

describe('weir run: savepoint restore options', concurrently, () => {
  it('`weir run -s <relative dir> -n job` hands the job the absolute path and the flag; a path that does not exist fails clearly', async () => {
    const r = await weir('run', '-s', 'no-such-savepoint-dir', '-n', 'test/jobs/print-restore-config.ts');
    const abs = resolve('no-such-savepoint-dir');
    const lines = r.stdout.split('\n');
    assert.ok(lines.includes('restoreSavepoint=true'), r.stdout);
    assert.ok(lines.includes(`restorePath=${abs}`), r.stdout);
    assert.ok(lines.includes('allowNonRestoredState=true'), r.stdout);
    assert.ok(lines.includes(`execution.savepoint.path=${abs}`), r.stdout);
    assert.ok(lines.includes('execution.savepoint.ignore-unclaimed-state=true'), r.stdout);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`Checkpoint or savepoint path ${escapeRegExp(abs)} does not exist`));
  });

  it('`--fromSavepoint <abs>` without -n leaves non-restored state disallowed; a file:// URI passes through as given', async () => {
    const abs = resolve('some', 'savepoint-abc');
    const r = await weir('run', '--fromSavepoint', abs, 'test/jobs/print-restore-config.ts');
    assert.match(r.stdout, new RegExp(`^restorePath=${escapeRegExp(abs)}$`, 'm'));
    assert.match(r.stdout, /^allowNonRestoredState=false$/m);
    assert.equal(r.status, 1, r.stderr);
    const u = await weir('run', '-s', 'file:///tmp/sp-uri', '--allowNonRestoredState', 'test/jobs/print-restore-config.ts');
    assert.match(u.stdout, /^restorePath=file:\/\/\/tmp\/sp-uri$/m);
    assert.match(u.stdout, /^allowNonRestoredState=true$/m);
    assert.equal(u.status, 1, u.stderr);
    assert.match(u.stderr, /Checkpoint or savepoint path \/tmp\/sp-uri does not exist/);
  });

  it('-s sets the same key as -D, and the job’s own setSavepointRestoreSettings wins over both', async () => {
    const d = await weir('run', '-D', 'execution.savepoint.path=/tmp/sp-d', 'test/jobs/print-restore-config.ts');
    assert.match(d.stdout, /^restorePath=\/tmp\/sp-d$/m);
    assert.match(d.stderr, /Checkpoint or savepoint path \/tmp\/sp-d does not exist/);
    const o = await weir('run', '-s', '/tmp/sp-cli', '-n', 'test/jobs/print-restore-config.ts', 'override');
    assert.equal(o.status, 0, o.stderr);
    assert.match(o.stdout, /^restoreSavepoint=false$/m);
    assert.match(o.stdout, /^pipeline: SavepointRestoreSettings\.none\(\)$/m);
  });

  it('`-s` without a path exits 2 saying a savepoint path is needed', async () => {
    const r = await weir('run', '-s');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /-s needs a savepoint path.*got nothing/);
    assert.match(r.stderr, /Usage: weir/);
    const f = await weir('run', '--fromSavepoint', '-n', 'test/jobs/print-restore-config.ts');
    assert.equal(f.status, 2);
    assert.match(f.stderr, /--fromSavepoint needs a savepoint path.*got "-n"/);
  });

  it('`weir run --help` documents -s/--fromSavepoint and -n/--allowNonRestoredState', async () => {
    const r = await weir('run', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /-s, --fromSavepoint <path>/);
    assert.match(r.stdout, /-n, --allowNonRestoredState/);
  });
});

describe('weir run: failures', concurrently, () => {
  it('a job whose user function throws exits 1, naming the operator and the user’s error with its stack', async () => {
    const r = await weir('run', '-p', '2', 'test/jobs/error-throws.ts');
    assert.equal(r.status, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, /my-op/);
    assert.match(r.stderr, /user code rejected record 777/);
    assert.match(r.stderr, /Caused by: RangeError: user code rejected record 777/);
    assert.match(r.stderr, /at explode .*error-throws\.ts/);
  });

  it('a job module that never calls execute() exits 1 saying so', async () => {
    const r = await weir('run', 'test/jobs/error-no-execute.ts');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /did not call env\.execute\(\)/);
  });

  it('a job module that builds a different graph in its workers exits 1 saying the graph differs', async () => {
    const r = await weir('run', '-p', '2', 'test/jobs/error-differs.ts');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /differs/);
    assert.match(r.stderr, /thread-dependent/);
  });
});
