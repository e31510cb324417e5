/**
 * Task-local recovery of full RocksDB checkpoints in a job: failures injected into a keyed
 * pipeline whose checkpoints are full (canonical) ones with `state.backend.local-recovery` on; the
 * restarts restore their keyed state from the task-local copies (counted by
 * rocksdb-local-recovery.ts, which runs in this thread in inline mode), the result is exactly the
 * straight run's, and the job's local directory is gone once it has finished.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fullLocalRecoveryStats } from '../../src/state/rocksdb/rocksdb-local-recovery.ts';
import { runJob, startJob } from '../../src/testing/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-rocksdb-local-recovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

describe('RocksDB: local recovery of full checkpoints', () => {
  it('golden keyed pipeline with failures, full checkpoints and local recovery: exactly the straight result, restored from the task-local copies', async () => {
    // Full checkpoints of this pipeline take a few hundred ms here: the sources go slowly enough
    // for the faults' checkpoints to complete before the input ends.
    const N = 30_000;
    const expected = canon((await runJob('test/jobs/golden.ts', { args: ['keyed', String(N), '{}'], parallelism: 1, mode: 'inline' })).collected);
    const faults = [
      { at: 'operator', attempt: 0, after: 2_000, checkpointed: true },
      { at: 'sink', attempt: 1, after: 300, checkpointed: true },
    ];
    const before = { ...fullLocalRecoveryStats };
    const localdir = join(dir, 'local');
    const client = await startJob('test/jobs/golden.ts', {
      args: ['keyed', String(N), JSON.stringify({ dir: join(dir, 'chk'), interval: 25, faults, throttle: 15, source: 'function' })],
      parallelism: 2,
      mode: 'inline',
      config: {
        'state.backend.type': 'rocksdb',
        'state.backend.incremental': false,
        'state.backend.local-recovery': true,
        'state.backend.rocksdb.localdir': localdir,
      },
    });
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
    // The second fault may miss when its attempt ends first; the first always restarts the job.
    const restarts = await client.getNumRestarts();
    assert.ok(restarts >= 1);
    assert.ok((await client.getCheckpointStats())!.counts.restored >= 1, 'a restart restored a checkpoint');
    assert.deepEqual(canon([...result.collected.values()].flat()), expected);
    const local = fullLocalRecoveryStats.local - before.local;
    const remote = fullLocalRecoveryStats.remote - before.remote;
    assert.ok(local >= 1, `keyed subtasks restored from their task-local copies (${local} local, ${remote} from the storage)`);
    assert.ok(local >= remote, `most restores were local (${local} local, ${remote} from the storage)`);
    assert.deepEqual(existsSync(localdir) ? readdirSync(localdir).filter((d) => d.startsWith('job-')) : [], [], 'the finished job left no local copy');
  });
});
