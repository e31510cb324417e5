/**
 * Event-time timers across many keys on the RocksDB backend, end to end: each watermark fires a
 * timer of nearly every key, far more keys than the state cache holds, so their state is read
 * ahead in chunks while the task waits (timer-service.ts); with failures injected while timers
 * fire and checkpoints taken meanwhile, the job's results are exactly those of a run on the heap
 * backend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startJob } from '../../src/testing/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-rocksdb-timers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const JOB = 'test/checkpoint/rocksdb-timer-job.ts';
const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

/** The rows the job must collect: one per key and window, the window's sum. */
function expected(n: number, keys: number, window: number): string[] {
  const sums = new Map<string, [number, number, number]>();
  for (let x = 1; x <= n; x++) {
    const key = x % keys;
    const end = Math.floor(x / window) * window + window - 1;
    const id = `${key}/${end}`;
    const s = sums.get(id);
    if (s) s[2] += x;
    else sums.set(id, [key, end, x]);
  }
  return canon([...sums.values()].map(([key, end, sum]) => ['window', key, end, sum]));
}

async function collect(client: Awaited<ReturnType<typeof startJob>>): Promise<string[]> {
  const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
  return canon([...result.collected.values()].flat());
}

describe('RocksDB: event-time timers across many keys', () => {
  it('24,000 keys (12,000 per subtask), a cache of about 8,000 entries, p=2, failures while timers fire: exactly the heap backend result', async () => {
    const job = { n: 48_000, keys: 24_000, window: 24_000 };
    const want = expected(job.n, job.keys, job.window);
    const heap = await startJob(JOB, { args: [JSON.stringify(job)], parallelism: 1, mode: 'inline' });
    assert.deepEqual(await collect(heap), want, 'the heap backend, straight');
    const client = await startJob(JOB, {
      args: [
        JSON.stringify({
          ...job,
          interval: 20,
          dir: join(dir, 'checkpoints'),
          pace: 20,
          // Each subtask reports about 12,000 windows per watermark: both failures hit a
          // subtask while the timers of a watermark fire in chunks (the second whatever
          // checkpoint the first restart restored: the second window has not fired then).
          failAt: [
            { attempt: 0, after: 4_000 },
            { attempt: 1, after: 3_000 },
          ],
        }),
      ],
      parallelism: 2,
      mode: 'inline',
      config: {
        'state.backend.type': 'rocksdb',
        'state.backend.rocksdb.localdir': join(dir, 'local'),
        // The smallest cache the configuration takes: about 8,000 entries of this job's state.
        'state.backend.rocksdb.memory.fixed-per-slot': '1 mb',
      },
    });
    const got = await collect(client);
    assert.equal(await client.getNumRestarts(), 2, 'each injected failure restarted the job once');
    assert.ok((await client.getCheckpointStats())!.counts.restored >= 1, 'a restart restored a checkpoint');
    assert.equal(got.length, want.length, 'no report lost or repeated');
    assert.deepEqual(got, want);
  });
});
