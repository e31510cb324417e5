import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';

/** Runs the CLI to its end: exit status and output (asynchronously, so that cases run side by side). */
function weir(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/weir.mjs', ...args], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ status: code, stdout, stderr });
    });
  });
}

// Each case is a process of its own: two at a time, as the examples run on two cores.
describe('examples', { concurrency: 2 }, () => {

  test('the seed CheckpointConfigExample runs (bounded to 4 clicks) and writes one line per click', async () => {
    const r = await weir('run', 'examples/checkpoint-config.ts', '4', '5');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 4);
    for (const l of lines) assert.match(l, /^输出: (Mary|Alice|Bob|Cary) 访问了 \.\/(home|cart|fav|prod\?id=[12])$/);
    assert.equal(r.stderr, '', 'no warnings: every setting of the example is supported');
  });

  for (const backend of ['hashmap', 'rocksdb']) {
    test(`the seed StateConsistencyExample counts visits per user in order (state backend ${backend})`, async () => {
      const r = await weir('run', 'examples/state-consistency.ts', '8', '5', backend);
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 8);
      const counts = new Map<string, number>();
      for (const l of lines) {
        const m = /^一致性状态统计> (\w+) 访问次数: (\d+) \(时间戳: \d+\)$/.exec(l);
        assert.ok(m, l);
        const next = (counts.get(m[1]!) ?? 0) + 1;
        assert.equal(Number(m[2]), next, `count of ${m[1]} goes 1, 2, 3, ...`);
        counts.set(m[1]!, next);
      }
    });
  }

  test('the README job counts each key to 250000', async () => {
    const r = await weir('run', 'examples/count-per-key.ts');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').sort();
    assert.equal(lines.length, 8);
    for (const k of [0, 1, 2, 3]) {
      assert.ok(lines.some((l) => l.endsWith(`key ${k}: 200000 records`)), `key ${k}`);
    }
  });

  test('a job module with two execute() calls runs both, inline and on threads, at parallelism 2', async () => {
    for (const mode of [['--inline'], []]) {
      const r = await weir('run', ...mode, 'test/jobs/two-executes.ts');
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines[0], 'first job', `mode ${mode.join('') || 'threads'}`);
      const sums = lines.slice(1).map((l) => Number(l.replace(/^second:\d> /, '')));
      // Running sums per key: odd key 1 then 1 + 3, even key 2 then 2 + 4.
      assert.deepEqual(sums.sort((a, b) => a - b), [1, 2, 4, 6], `mode ${mode.join('') || 'threads'}`);
    }
  });
});
