/**
 * Rescaling from a savepoint: a run is stopped with a savepoint at one parallelism and restored
 * at another. Split-based source splits, SourceFunction positions in union and in split list
 * state, and a sink's buffered records in operator list state must each be resumed exactly once:
 * every number is written out exactly once over both runs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/checkpoint/filesystem-checkpoint-storage.ts';
import { runJob, startJob } from '../../src/testing/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-rescale-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const N = 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every number written by the runs whose file names start with `prefix`, and how many batches were written. */
function written(out: string, prefix: string): { numbers: number[]; batches: number } {
  const numbers: number[] = [];
  let batches = 0;
  for (const f of readdirSync(out).filter((x) => x.startsWith(prefix))) {
    for (const line of readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean)) {
      numbers.push(...(JSON.parse(line) as number[]));
      batches++;
    }
  }
  return { numbers, batches };
}

async function rescale(from: number, to: number, mode: 'threads' | 'inline'): Promise<string> {
  const out = join(dir, `out-${from}-${to}`);
  mkdirSync(out);
  const first = await startJob('test/jobs/savepoint-rescale.ts', {
    args: [String(N), JSON.stringify({ out, run: 'first', batch: 2, pauseMs: 1 })],
    parallelism: from,
    mode,
  });
  await sleep(400);
  const savepoint = await first.stopWithSavepoint(join(dir, 'savepoints'));
  assert.equal(await first.getJobStatus(), 'FINISHED');

  const { metadata } = await loadCheckpoint(savepoint);
  const names = new Map(metadata.operators.map((o) => [o.uid, o.stateNames]));
  assert.deepEqual(names.get('buffering-sink'), ['buffer']);
  assert.deepEqual(names.get('union-source'), ['offsets']);
  assert.deepEqual(names.get('split-source'), ['offsets']);
  for (const o of metadata.operators) assert.equal(o.parallelism, from);

  const before = written(out, 'first');
  assert.ok(before.numbers.length > 0 && before.numbers.length < 3 * N, `the first run wrote ${before.numbers.length} of ${3 * N}`);

  await runJob('test/jobs/savepoint-rescale.ts', {
    args: [String(N), JSON.stringify({ out, run: 'second' })],
    parallelism: to,
    mode: 'inline',
    config: { 'execution.savepoint.path': savepoint },
  });
  assert.equal(readdirSync(out).filter((f) => f.startsWith('second')).length, to, 'every restored subtask wrote');
  const all = [...before.numbers, ...written(out, 'second').numbers].sort((a, b) => a - b);
  const missing: number[] = [];
  const repeated: number[] = [];
  for (let i = 0, n = 1; n <= 3 * N; n++) {
    let count = 0;
    while (all[i] === n) (i++, count++);
    if (count === 0) missing.push(n);
    if (count > 1) repeated.push(n);
  }
  assert.deepEqual({ missing: missing.slice(0, 10), repeated: repeated.slice(0, 10) }, { missing: [], repeated: [] });
  assert.equal(all.length, 3 * N);
  assert.ok(existsSync(join(savepoint, '_metadata')), 'the savepoint stays after the restored job finished');
  return savepoint;
}

let fromTwo: string;

describe('rescaling from a savepoint', () => {
  it('2 → 3 (threads, then inline): splits, union and split list state, sink buffers: each number exactly once', async () => {
    fromTwo = await rescale(2, 3, 'threads');
  });

  it('3 → 1 (inline): the same', async () => {
    await rescale(3, 1, 'inline');
  });

  it('a changed maxParallelism is refused, naming the operator and both values', async () => {
    const out = join(dir, 'out-max');
    mkdirSync(out);
    await assert.rejects(
      runJob('test/jobs/savepoint-rescale.ts', {
        args: [String(N), JSON.stringify({ out, run: 'x' })],
        parallelism: 2,
        mode: 'inline',
        config: { 'execution.savepoint.path': fromTwo, 'pipeline.max-parallelism': 64 },
      }),
      /operator "[^"]+" has maxParallelism 64, but its state in .* was written with maxParallelism 128/,
    );
  });
});
