/**
 * `weir run` starts a job's slot workers before it imports the job, guessing how many from the
 * command line (-p, else one per core). The job's own code decides: these runs need more workers
 * than were started, fewer, or none (inline), and each must print the job's output from the
 * subtasks the job asked for and exit 0 (surplus workers must not keep the process alive).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const JOB = 'test/cli/jobs/start-up-parallelism.ts';
const EXPECTED = ['10', '20', '30', '40', '50', '60'];

function weir(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/weir.mjs', ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The printed values, sorted, and the subtask prefixes seen ("" where a line has none). */
function printed(r: { status: number | null; stdout: string; stderr: string }): { values: string[]; subtasks: Set<string> } {
  assert.equal(r.status, 0, `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.length > 0);
  const subtasks = new Set(lines.map((l) => /^(\d+)> /.exec(l)?.[1] ?? ''));
  const values = lines.map((l) => l.replace(/^\d+> /, '')).sort((a, b) => Number(a) - Number(b));
  return { values, subtasks };
}

describe('weir run: slot workers started before the job is imported', () => {
  it('a job that sets a higher parallelism than -p gets the workers it needs', () => {
    const { values, subtasks } = printed(weir('run', '-p', '1', JOB, '3'));
    assert.deepEqual(values, EXPECTED);
    assert.deepEqual([...subtasks].sort(), ['1', '2', '3']);
  });

  it('a job that sets a lower parallelism runs on one worker; the others stop', () => {
    const { values, subtasks } = printed(weir('run', '-p', String(Math.max(2, availableParallelism())), JOB, '1'));
    assert.deepEqual(values, EXPECTED);
    assert.deepEqual([...subtasks], ['']);
  });

  it('a job that switches itself to inline mode leaves the started workers unused', () => {
    const { values, subtasks } = printed(weir('run', JOB, '2', 'inline'));
    assert.deepEqual(values, EXPECTED);
    assert.deepEqual([...subtasks].sort(), ['1', '2']);
  });
});
