/**
 * TwoPhaseCommitSinkFunction in real jobs, through a file sink fixture
 * (fixtures/file-two-phase-commit-sink.ts): the sink contract suite (exactly once with and
 * without failures, rescaling, bounded input), and the failure paths the suite leaves to
 * SinkFunctions: a commit that fails before or after it made its transaction visible (the
 * restore commits it again through recoverAndCommit), and a failure between a checkpoint's
 * pre-commit and its completion (the restore aborts the transaction open at the restored
 * checkpoint through recoverAndAbort). Then the same contract driven by hand, without a job, for
 * what jobs do not reach deterministically: lost notifications, failed commits, the recovery of
 * several stored states, codecs and the end of input.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TwoPhaseCommitSinkFunction } from 'weir';
import { runSinkJobUntilVisible, sinkContract } from '../contracts/sink.contract.ts';
import {
  commitFailsAfterCase,
  commitFailsBeforeCase,
  fileTwoPhaseCommitCase,
  readEvents,
} from './fixtures/file-two-phase-commit-sink.ts';
import { handDriven, noContext, type HandDriven } from './fixtures/hand-driven-context.ts';
import { assertExactlyOnce, withTarget } from './fixtures/run-until-visible.ts';

// Failure cases inline; threads are covered by the suite's process and rescale runs.
sinkContract(fileTwoPhaseCommitCase, { parallelisms: [1] });

const COUNT = 2000;

describe('TwoPhaseCommitSinkFunction: failures the contract suite leaves to SinkFunctions', () => {
  // Inline only: the restore path is the framework's, and the commit-after case below runs on threads.
  for (const p of [1]) {
    it(`p=${p}: a commit that fails before committing: the restore commits the transaction (recoverAndCommit), every record once`, async () => {
      await withTarget(commitFailsBeforeCase, async (target) => {
        const { visible, restarts } = await runSinkJobUntilVisible(commitFailsBeforeCase, target, { parallelism: p, count: COUNT });
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
      const { visible, restarts } = await runSinkJobUntilVisible(commitFailsAfterCase, target, { parallelism: 2, count: COUNT });
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
        const { visible, restarts } = await runSinkJobUntilVisible(c, target, { parallelism: p, count: COUNT, faults: [{ at: 'snapshot', attempt: 0, after: 3 }] });
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

/** Records every call of the transaction contract; transactions are numbered objects. */
class RecordingSink extends TwoPhaseCommitSinkFunction<string, { n: number }, { prefix: string }> {
  calls: string[] = [];
  records: Map<number, string[]> = new Map();
  next = 0;
  failCommits = 0;
  protected beginTransaction(): { n: number } {
    const n = this.next++;
    this.records.set(n, []);
    this.calls.push(`begin ${n}`);
    return { n };
  }
  protected invokeInTransaction(txn: { n: number }, value: string): void {
    this.records.get(txn.n)!.push(value);
  }
  protected preCommit(txn: { n: number }): void {
    this.calls.push(`preCommit ${txn.n}`);
  }
  protected async commit(txn: { n: number }): Promise<void> {
    if (this.failCommits > 0) {
      this.failCommits--;
      throw new Error(`commit ${txn.n} failed`);
    }
    this.calls.push(`commit ${txn.n}`);
  }
  protected abort(txn: { n: number }): void {
    this.calls.push(`abort ${txn.n}`);
  }
  protected override recoverAndCommit(txn: { n: number }): void {
    this.calls.push(`recoverAndCommit ${txn.n}`);
  }
  protected override recoverAndAbort(txn: { n: number }): void {
    this.calls.push(`recoverAndAbort ${txn.n}`);
  }
  protected override initializeUserContext(): { prefix: string } {
    return { prefix: 'fresh' };
  }
  protected override finishRecoveringContext(handled: readonly { n: number }[]): void {
    this.calls.push(`finishRecoveringContext ${this.context()?.prefix} [${handled.map((t) => t.n).join(',')}]`);
  }
  context(): { prefix: string } | undefined {
    return this.getUserContext();
  }
}

async function opened(sink: RecordingSink, d: HandDriven): Promise<RecordingSink> {
  sink.setRuntimeContext(d.runtime);
  await sink.initializeState(d.init());
  await sink.open();
  return sink;
}

describe('TwoPhaseCommitSinkFunction, driven by hand', () => {
  it('pre-commits at each snapshot, commits on completion up to the completed id, and stores pending and open transactions', async () => {
    const d = handDriven({});
    const sink = await opened(new RecordingSink(), d);
    await sink.invoke('a', noContext);
    await sink.snapshotState(d.snapshot(1));
    await sink.invoke('b', noContext);
    await sink.snapshotState(d.snapshot(2));
    assert.deepEqual(d.lists.get('state')!.values, [
      {
        pendingCommitTransactions: [
          { checkpointId: 1, transaction: { n: 0 } },
          { checkpointId: 2, transaction: { n: 1 } },
        ],
        pendingTransaction: { transaction: { n: 2 } },
        context: { value: { prefix: 'fresh' } },
        transactionCodecVersion: 0,
        contextCodecVersion: 0,
      },
    ]);
    // Checkpoint 1's notification was lost: completing 2 commits both, in order.
    await sink.notifyCheckpointComplete(2);
    assert.deepEqual(sink.calls, ['begin 0', 'preCommit 0', 'begin 1', 'preCommit 1', 'begin 2', 'commit 0', 'commit 1']);
    assert.deepEqual([...sink.records.get(0)!, ...sink.records.get(1)!], ['a', 'b']);
    await sink.close();
    assert.deepEqual(sink.calls.slice(-1), ['abort 2'], 'close aborts the open transaction');
  });

  it('a failed commit fails the notification and stays pending, so a later snapshot still holds it', async () => {
    const d = handDriven({});
    const sink = await opened(new RecordingSink(), d);
    await sink.snapshotState(d.snapshot(1));
    sink.failCommits = 1;
    await assert.rejects(sink.notifyCheckpointComplete(1), /committing a transaction of checkpoint 1/);
    await sink.snapshotState(d.snapshot(2));
    const stored = d.lists.get('state')!.values[0] as { pendingCommitTransactions: unknown[] };
    assert.deepEqual(stored.pendingCommitTransactions, [
      { checkpointId: 1, transaction: { n: 0 } },
      { checkpointId: 2, transaction: { n: 1 } },
    ]);
  });

  it('restores every stored state it receives (rescale): commits their pending transactions, aborts their open ones, then begins a new one', async () => {
    const stored = (pending: number[], open: number | null, prefix: string | null) => ({
      pendingCommitTransactions: pending.map((n, i) => ({ checkpointId: 5 + i, transaction: { n } })),
      pendingTransaction: open === null ? null : { transaction: { n: open } },
      context: prefix === null ? null : { value: { prefix } },
      transactionCodecVersion: 0,
      contextCodecVersion: 0,
    });
    const d = handDriven({ index: 0, parallelism: 1 }, { state: [stored([10, 11], 12, 'old-0'), stored([20], 21, 'old-1')] });
    const sink = new RecordingSink();
    sink.next = 100;
    await opened(sink, d);
    assert.deepEqual(sink.calls, [
      'recoverAndCommit 10',
      'recoverAndCommit 11',
      'recoverAndAbort 12',
      'finishRecoveringContext old-0 [10,11,12]',
      'recoverAndCommit 20',
      'recoverAndAbort 21',
      'finishRecoveringContext old-1 [20,21]',
      'begin 100',
    ]);
    assert.equal(sink.context()?.prefix, 'old-1');
    await sink.snapshotState(d.snapshot(7));
    const after = d.lists.get('state')!.values as { pendingCommitTransactions: unknown[] }[];
    assert.equal(after.length, 1, 'the first snapshot after the restore replaces the restored entries');
    assert.deepEqual(after[0]!.pendingCommitTransactions, [{ checkpointId: 7, transaction: { n: 100 } }]);
  });

  it('a restored subtask that receives no state (rescaled up) starts with a fresh context', async () => {
    const d = handDriven({ index: 1, parallelism: 2 }, { state: [] });
    const sink = await opened(new RecordingSink(), d);
    assert.deepEqual(sink.calls, ['begin 0']);
    assert.equal(sink.context()?.prefix, 'fresh');
  });

  it('transactions and the context go through their codecs, with the codec versions stored', async () => {
    class CodecSink extends RecordingSink {
      constructor() {
        super({
          transactionCodec: { version: 3, toPlain: (t) => `txn-${t.n}`, fromPlain: (p, v) => ({ n: Number(String(p).slice(4)) + v * 1000 }) },
          contextCodec: { version: 2, toPlain: (c) => c.prefix, fromPlain: (p) => ({ prefix: `${String(p)}!` }) },
        });
      }
    }
    const d = handDriven({});
    const sink = await opened(new CodecSink(), d);
    await sink.snapshotState(d.snapshot(1));
    const stored = d.lists.get('state')!.values;
    assert.deepEqual(stored, [
      {
        pendingCommitTransactions: [{ checkpointId: 1, transaction: 'txn-0' }],
        pendingTransaction: { transaction: 'txn-1' },
        context: { value: 'fresh' },
        transactionCodecVersion: 3,
        contextCodecVersion: 2,
      },
    ]);
    const restored = await opened(new CodecSink(), handDriven({}, { state: stored }));
    assert.deepEqual(restored.calls.slice(0, 3), ['recoverAndCommit 3000', 'recoverAndAbort 3001', 'finishRecoveringContext fresh! [3000,3001]']);
  });

  it('end of input with checkpointing: pre-commits the open transaction and leaves it to the final checkpoint', async () => {
    const d = handDriven({});
    const sink = await opened(new RecordingSink(), d);
    await sink.invoke('a', noContext);
    await sink.finish();
    assert.throws(() => sink.invoke('late', noContext), /after the end of input/);
    await sink.snapshotState(d.snapshot(1));
    assert.deepEqual(sink.calls, ['begin 0', 'preCommit 0'], 'no second pre-commit and no new transaction at the final snapshot');
    const stored = d.lists.get('state')!.values[0] as { pendingTransaction: unknown };
    assert.equal(stored.pendingTransaction, null);
    await sink.notifyCheckpointComplete(1);
    await sink.close();
    assert.deepEqual(sink.calls, ['begin 0', 'preCommit 0', 'commit 0'], 'committed by the final checkpoint, nothing aborted at close');
  });

  it('end of input without checkpointing: commits the last transaction at once', async () => {
    const d = handDriven({}, undefined, { isCheckpointingEnabled: () => false });
    const sink = await opened(new RecordingSink(), d);
    await sink.invoke('a', noContext);
    await sink.finish();
    await sink.close();
    assert.deepEqual(sink.calls, ['begin 0', 'preCommit 0', 'commit 0']);
  });

});
