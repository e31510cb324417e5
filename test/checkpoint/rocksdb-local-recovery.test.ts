/**
 * Task-local recovery of full RocksDB checkpoints in a job: failures injected into a keyed
 * pipeline whose checkpoints are full (canonical) ones with `state.backend.local-recovery` on; the
 * restarts restore their keyed state from the task-local copies (counted by
 * rocksdb-local-recovery.ts, which runs in this thread in inline mode), the result is exactly the
 * straight run's (test/support/state-files.ts runLocalRecoveryJob has the job and those checks),
 * and the job's local directory is gone once it has finished.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fullLocalRecoveryStats } from '../../src/state/rocksdb/rocksdb-local-recovery.ts';
import { runLocalRecoveryJob } from '../support/state-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-rocksdb-local-recovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('RocksDB: local recovery of full checkpoints', () => {
  it('golden keyed pipeline with failures, full checkpoints and local recovery: exactly the straight result, restored from the task-local copies', async () => {
    const localdir = join(dir, 'local');
    await runLocalRecoveryJob({
      dir,
      config: {
        'state.backend.type': 'rocksdb',
        'state.backend.incremental': false,
        'state.backend.local-recovery': true,
        'state.backend.rocksdb.localdir': localdir,
      },
      stats: fullLocalRecoveryStats,
    });
    assert.deepEqual(existsSync(localdir) ? readdirSync(localdir).filter((d) => d.startsWith('job-')) : [], [], 'the finished job left no local copy');
  });
});
