/**
 * The fault-injection harness of weir/testing, used as a user would: a bounded job writing
 * through a two-phase sink, one failure injected at each point the harness offers, and the
 * external output (committed files) checked to hold every input record exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startJob } from '../../src/testing/index.ts';
import { readVisibleRecords } from '../contracts/fixtures/staging-file-sink.ts';

const JOB = 'test/jobs/fault-harness.ts';
const COUNT = 1500;

function exactlyOnce(visible: readonly string[]): void {
  const seen = new Set(visible);
  assert.equal(seen.size, visible.length, `${visible.length - seen.size} records visible twice`);
  for (let n = 0; n < COUNT; n++) assert.ok(seen.has(`record-${n}`), `record-${n} is missing`);
  assert.equal(visible.length, COUNT);
}

describe('fault-injection harness (weir/testing)', () => {
  const plans = [
    ['a task failing at its 400th record (FailAfterRecords)', { at: 'record', after: 400 }],
    ['a failure in the synchronous part of checkpoint 3', { at: 'sync-snapshot', checkpoint: 3 }],
    ['a failure in the asynchronous part of checkpoint 3', { at: 'async-snapshot', checkpoint: 3 }],
    ['a failure inside a commit, before the committer ran', { at: 'commit-before', checkpoint: 2 }],
    ['a failure inside a commit, after the committer committed', { at: 'commit-after', checkpoint: 2 }],
  ] as const;
  for (const [mode, parallelism] of [
    ['inline', 1],
    ['threads', 2],
  ] as const) {
    for (const [what, plan] of plans) {
      it(`p=${parallelism} ${mode}: ${what} restarts the job once, and the committed output holds every record exactly once`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'weir-fault-harness-'));
        try {
          const client = await startJob(JOB, { args: [dir, JSON.stringify({ count: COUNT, plan })], parallelism, mode });
          await client.getJobExecutionResult();
          assert.equal(await client.getNumRestarts(), 1, 'the injected failure restarted the job once');
          exactlyOnce(readVisibleRecords(dir));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  }
});
