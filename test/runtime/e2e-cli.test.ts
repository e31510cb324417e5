/**
 * End to end: the `weir` command. Runs bin/weir.mjs as a child process and checks exit codes
 * and output: 0 for a finished job, 1 for a failed one, 2 for usage errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const TIMEOUT_MS = 30_000;

function weir(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/weir.mjs', ...args], { encoding: 'utf8', timeout: TIMEOUT_MS });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
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

describe('weir run: the visit-count example', () => {
  it('`weir run examples/user-visit-count.ts 6 10 2` (parallelism from the job’s argument) prints 6 counts, 1..n per user', () => {
    const r = weir('run', 'examples/user-visit-count.ts', '6', '10', '2');
    assert.equal(r.status, 0, r.stderr);
    checkVisitCounts(r.stdout, 6, true);
  });

  it('`weir run -p 2 examples/user-visit-count.ts 6 10` runs at parallelism 2', () => {
    const r = weir('run', '-p', '2', 'examples/user-visit-count.ts', '6', '10');
    assert.equal(r.status, 0, r.stderr);
    checkVisitCounts(r.stdout, 6, true);
  });

  it('`weir run --inline examples/user-visit-count.ts 5 0` runs on one thread at parallelism 1', () => {
    const r = weir('run', '--inline', 'examples/user-visit-count.ts', '5', '0');
    assert.equal(r.status, 0, r.stderr);
    checkVisitCounts(r.stdout, 5, false);
  });
});

describe('weir: usage', () => {
  it('`weir --help` exits 0 with the usage', () => {
    const r = weir('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: weir/);
    assert.match(r.stdout, /run \[options\]/);
  });

  it('`weir run --help` exits 0 with the usage', () => {
    const r = weir('run', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--parallelism/);
  });

  it('`weir` alone prints the usage and exits 2', () => {
    const r = weir();
    assert.equal(r.status, 2);
    assert.match(r.stdout, /Usage: weir/);
  });

  it('`weir run <missing file>` exits 2 naming the file', () => {
    const r = weir('run', 'test/jobs/no-such-job.ts');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /job file not found: .*no-such-job\.ts/);
    assert.match(r.stderr, /Usage: weir/);
  });

  it('`weir run` without a file exits 2 saying a job file is needed', () => {
    const r = weir('run');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /run needs a job file/);
  });

  it('bad options exit 2 naming the option', () => {
    const p = weir('run', '-p', 'zero', 'examples/user-visit-count.ts');
    assert.equal(p.status, 2);
    assert.match(p.stderr, /-p needs a positive integer, got zero/);
    const d = weir('run', '-D', 'no.such.key=1', 'examples/user-visit-count.ts');
    assert.equal(d.status, 2);
    assert.match(d.stderr, /unknown configuration key "no\.such\.key"/);
    const c = weir('frobnicate');
    assert.equal(c.status, 2);
    assert.match(c.stderr, /unknown command "frobnicate"/);
  });

  it('`weir --version` prints the package version', () => {
    const r = weir('--version');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^weir \d+\.\d+\.\d+/);
  });
});

describe('weir run: failures', () => {
  it('a job whose user function throws exits 1, naming the operator and the user’s error with its stack', () => {
    const r = weir('run', '-p', '2', 'test/jobs/error-throws.ts');
    assert.equal(r.status, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, /my-op/);
    assert.match(r.stderr, /user code rejected record 777/);
    assert.match(r.stderr, /Caused by: RangeError: user code rejected record 777/);
    assert.match(r.stderr, /at explode .*error-throws\.ts/);
  });

  it('a job module that never calls execute() exits 1 saying so', () => {
    const r = weir('run', 'test/jobs/error-no-execute.ts');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /did not call env\.execute\(\)/);
  });

  it('a job module that builds a different graph in its workers exits 1 saying the graph differs', () => {
    const r = weir('run', '-p', '2', 'test/jobs/error-differs.ts');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /differs/);
    assert.match(r.stderr, /thread-dependent/);
  });
});
