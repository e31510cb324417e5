/**
 * TwoPhaseCommitSinkFunction in real jobs, through a file sink fixture
 * (fixtures/file-two-phase-commit-sink.ts): the sink contract suite (exactly once with and
 * without failures, rescaling, bounded input), and the failure paths the suite leaves to
 * SinkFunctions: a commit that fails before or after it made its transaction visible (the
 * restore commits it again through recoverAndCommit), and a failure between a checkpoint's
 * pre-commit and its completion (the restore aborts the transaction open at the restored
 * checkpoint through recoverAndAbort).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sinkContract, type SinkContractCase } from '../contracts/sink.contract.ts';
import {
  commitFailsAfterCase,
  commitFailsBeforeCase,
  fileTwoPhaseCommitCase,
  readEvents,
} from './fixtures/file-two-phase-commit-sink.ts';
import { assertExactlyOnce, runUntilVisible } from './fixtures/run-until-visible.ts';

sinkContract(fileTwoPhaseCommitCase);

const COUNT = 2000;

async function withTarget<T>(c: SinkContractCase, fn: (target: string) => Promise<T>): Promise<T> {
  const target = await c.createTarget();
  try {
    return await fn(target);
  } finally {
    await c.dropTarget?.(target);
  }
}

describe('TwoPhaseCommitSinkFunction: failures the contract suite leaves to SinkFunctions', () => {
  for (const p of [1, 2]) {
    it(`p=${p}: a commit that fails before committing: the restore commits the transaction (recoverAndCommit), every record once`, async () => {
      await withTarget(commitFailsBeforeCase, async (target) => {
        const { visible, restarts } = await runUntilVisible(commitFailsBeforeCase, target, { parallelism: p, count: COUNT });
        assert.ok(restarts >= 1, `the failed commit restarted the job (restarts: ${restarts})`);
        assertExactlyOnce(visible, COUNT, 'after a failure before the commit');
        const events = readEvents(target);
        const failed = events.find((e) => e.startsWith('failed before committing '))?.slice('failed before committing '.length);
        assert.ok(failed !== undefined, `the injected failure fired: ${events.join('; ')}`);
        assert.ok(events.includes(`recoverAndCommit ${failed}`), `the restore committed ${failed}: ${events.join('; ')}`);
        assert.ok(existsSync(join(target, 'visible', failed)), `${failed} is visible`);
      });
    });
  }

  it('p=2: a commit that fails after committing: the restore commits the same transaction again, idempotently, every record once', async () => {
    await withTarget(commitFailsAfterCase, async (target) => {
      const { visible, restarts } = await runUntilVisible(commitFailsAfterCase, target, { parallelism: 2, count: COUNT });
      assert.ok(restarts >= 1, `the failed commit restarted the job (restarts: ${restarts})`);
      assertExactlyOnce(visible, COUNT, 'after a failure after the commit');
      const events = readEvents(target);
      const failed = events.find((e) => e.startsWith('failed after committing '))?.slice('failed after committing '.length);
      assert.ok(failed !== undefined, `the injected failure fired: ${events.join('; ')}`);
      assert.ok(events.includes(`recoverAndCommit ${failed}`), `the restore committed ${failed} again: ${events.join('; ')}`);
    });
  });

  for (const p of [1, 2]) {
    it(`p=${p}: a failure between a checkpoint's pre-commit and its completion: the restored open transaction is aborted, every record once`, async () => {
      const c = fileTwoPhaseCommitCase;
      await withTarget(c, async (target) => {
        const { visible, restarts } = await runUntilVisible(c, target, { parallelism: p, count: COUNT, faults: [{ at: 'snapshot', attempt: 0, after: 3 }] });
        assert.ok(restarts >= 1, `the failed checkpoint restarted the job (restarts: ${restarts})`);
        assertExactlyOnce(visible, COUNT, 'after a failure between pre-commit and completion');
        const events = readEvents(target);
        const aborted = events.filter((e) => e.startsWith('recoverAndAbort ')).map((e) => e.slice('recoverAndAbort '.length));
        // Every subtask restores checkpoint 2, which holds the transaction it had open then.
        assert.equal(aborted.length, p, `each subtask aborted its restored open transaction: ${events.join('; ')}`);
        for (const name of aborted) {
          assert.match(name, /-a0-/, `${name} was opened by the failed attempt`);
          assert.ok(!existsSync(join(target, 'pending', name)), `${name} was deleted`);
          assert.ok(!existsSync(join(target, 'visible', name)), `${name} never became visible`);
        }
        // Checkpoint 2's own transactions are committed again on restore (the failed run had committed them).
        assert.ok(events.some((e) => e.startsWith('recoverAndCommit ')), `the restore committed checkpoint 2's transactions: ${events.join('; ')}`);
      });
    });
  }
});
