/**
 * Checkpoint failures in running jobs: storage that cannot be written, the tolerable-failure
 * threshold failing the job over until restarts run out, and what is kept of a job's
 * checkpoints when it is cancelled without retention.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runJob, startJob } from '../../src/testing/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-cpfail-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const notADirectory = join(dir, 'plain-file');
writeFileSync(notADirectory, 'not a directory');

describe('checkpoint storage failures', () => {
  it('with failures tolerated and no final checkpoint, a job whose checkpoints cannot be written still finishes with exact results', async () => {
    const straight = (await runJob('test/jobs/golden.ts', { args: ['union', '8000', '{}'], parallelism: 1, mode: 'inline' })).collected.length;
    const client = await startJob('test/jobs/golden.ts', {
      args: ['union', '8000', JSON.stringify({ dir: notADirectory, interval: 10, throttle: 20, source: 'function' })],
      parallelism: 2,
      mode: 'inline',
      // With the final checkpoint (the default) the job would wait for a checkpoint that can never
      // complete, until the tolerable failures ran out: see the next test.
      config: { 'execution.checkpointing.tolerable-failed-checkpoints': 1000, 'execution.checkpointing.checkpoints-after-tasks-finish': false },
    });
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
    assert.equal([...result.collected.values()].flat().length, straight);
    const stats = (await client.getCheckpointStats())!;
    assert.equal(stats.counts.completed, 0);
    assert.ok(stats.counts.failed >= 2, JSON.stringify(stats.counts));
    assert.match(stats.history[0]!.failure_message ?? '', /declined|ENOTDIR|not a directory|EEXIST/i);
    assert.equal(await client.getNumRestarts(), 0);
  });

  it('a bounded job whose final checkpoint cannot be written does not end as if it had committed: it fails over once the tolerable failures ran out', async () => {
    const client = await startJob('test/jobs/golden.ts', {
      args: ['union', '2000', JSON.stringify({ dir: notADirectory, interval: 10, throttle: 20, source: 'function', restarts: 1 })],
      parallelism: 2,
      mode: 'inline',
      config: { 'execution.checkpointing.tolerable-failed-checkpoints': 3 },
    });
    await assert.rejects(client.getJobExecutionResult(), /Exceeded checkpoint tolerable failure threshold/);
  });

  it('beyond the tolerable number, failed checkpoints fail the job over; when restarts run out the job fails with the history', async () => {
    const client = await startJob('test/jobs/golden.ts', {
      args: ['union', '200000', JSON.stringify({ dir: notADirectory, interval: 10, throttle: 20, source: 'function', restarts: 2 })],
      parallelism: 2,
      mode: 'inline',
    });
    await assert.rejects(client.getJobExecutionResult(), (e: Error) => {
      assert.match(e.message, /Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy/);
      assert.match(e.message, /failed 3 times and was restarted 2 times/);
      assert.match(e.message, /Exceeded checkpoint tolerable failure threshold/);
      return true;
    });
    assert.equal(await client.getNumRestarts(), 2);
  });
});

describe('retention', () => {
  it('a cancelled job without externalized checkpoints leaves no checkpoint behind', async () => {
    const cpDir = join(dir, 'no-retention');
    const client = await startJob('test/jobs/golden.ts', {
      args: ['keyed', '100000', JSON.stringify({ dir: cpDir, interval: 60_000, throttle: 10, source: 'function' })],
      parallelism: 2,
      mode: 'inline',
    });
    await new Promise((r) => setTimeout(r, 100));
    const chk = await client.triggerCheckpoint();
    assert.ok(existsSync(join(chk, '_metadata')));
    await client.cancel();
    await assert.rejects(client.getJobExecutionResult(), /cancelled/);
    assert.equal(existsSync(join(cpDir, client.getJobID())), false, 'the job directory is gone');
  });

  it('triggerCheckpoint without checkpointing enabled says so', async () => {
    const client = await startJob('test/jobs/golden.ts', { args: ['keyed', '200000', JSON.stringify({ throttle: 10, source: 'function' })], parallelism: 1, mode: 'inline' });
    await assert.rejects(client.triggerCheckpoint(), /does not have checkpointing enabled/);
    await client.cancel();
    await assert.rejects(client.getJobExecutionResult(), /cancelled/);
  });
});
