/**
 * Task-local recovery on the heap backend in a job: failures injected into a keyed pipeline with
 * `state.backend.local-recovery` on; the restarts read their keyed state files from the task-local
 * copies (counted by heap-local-recovery.ts, which runs in this thread in inline mode), the result
 * is exactly the straight run's, and the finished job's copies are gone.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { heapLocalRecoveryStats } from '../../src/state/heap/heap-local-recovery.ts';
import { runJob, startJob } from '../../src/testing/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-heap-local-recovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

describe('heap backend: local recovery', () => {
  it('golden keyed pipeline with failures and local recovery: exactly the straight result, restored from the task-local copies', async () => {
    const N = 30_000;
    const expected = canon((await runJob('test/jobs/golden.ts', { args: ['keyed', String(N), '{}'], parallelism: 1, mode: 'inline' })).collected);
    const faults = [
      { at: 'operator', attempt: 0, after: 2_000, checkpointed: true },
      { at: 'sink', attempt: 1, after: 300, checkpointed: true },
    ];
    const before = { ...heapLocalRecoveryStats };
    const client = await startJob('test/jobs/golden.ts', {
      args: ['keyed', String(N), JSON.stringify({ dir: join(dir, 'chk'), interval: 25, faults, throttle: 15, source: 'function' })],
      parallelism: 2,
      mode: 'inline',
      config: { 'state.backend.type': 'hashmap', 'state.backend.local-recovery': true },
    });
    const jobId = client.getJobID();
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
    assert.ok((await client.getNumRestarts()) >= 1);
    assert.ok((await client.getCheckpointStats())!.counts.restored >= 1, 'a restart restored a checkpoint');
    assert.deepEqual(canon([...result.collected.values()].flat()), expected);
    const local = heapLocalRecoveryStats.local - before.local;
    const remote = heapLocalRecoveryStats.remote - before.remote;
    assert.ok(local >= 1, `keyed subtasks read their files from the task-local copies (${local} local, ${remote} from the storage)`);
    assert.ok(local >= remote, `most restores were local (${local} local, ${remote} from the storage)`);
    assert.equal(existsSync(join(tmpdir(), 'weir-local-recovery', `job-${String(jobId)}`)), false, 'the finished job left no local copy');
  });
});
