/**
 * Task-local recovery on the heap backend in a job: failures injected into a keyed pipeline with
 * `state.backend.local-recovery` on; the restarts read their keyed state files from the task-local
 * copies (counted by heap-local-recovery.ts, which runs in this thread in inline mode), the result
 * is exactly the straight run's (test/support/state-files.ts runLocalRecoveryJob has the job and
 * those checks), and the finished job's copies are gone.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { heapLocalRecoveryStats } from '../../src/state/heap/heap-local-recovery.ts';
import { runLocalRecoveryJob } from '../support/state-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-heap-local-recovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('heap backend: local recovery', () => {
  it('golden keyed pipeline with failures and local recovery: exactly the straight result, restored from the task-local copies', async () => {
    const jobId = await runLocalRecoveryJob({
      dir,
      config: { 'state.backend.type': 'hashmap', 'state.backend.local-recovery': true },
      stats: heapLocalRecoveryStats,
    });
    // The heap backend's copies are under the default root, weir-local-recovery in the OS temporary directory.
    assert.equal(existsSync(join(tmpdir(), 'weir-local-recovery', `job-${jobId}`)), false, 'the finished job left no local copy');
  });
});
