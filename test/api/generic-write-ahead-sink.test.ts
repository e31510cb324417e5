/**
 * GenericWriteAheadSink in real jobs, through file fixtures (fixtures/file-write-ahead-sink.ts)
 * with a CheckpointCommitter on files: the sink contract suite for a sink whose sends are
 * idempotent per checkpoint (exactly once), the committer keeping a restore of an appending sink
 * from writing committed checkpoints again, and the window the suite does not reach: a failure after sendValues and before commitCheckpoint. There
 * the idempotent sink stays exactly-once and the appending one writes that checkpoint's values
 * twice (Flink's documented limit), and nothing else twice. Then the same contract driven by
 * hand, without a job: refused sends, keys across a restore, codecs, the end of input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CheckpointCommitter, GenericWriteAheadSink, NO_CHECKPOINT_ID, type CheckpointKey } from 'weir';
import { runSinkJobUntilVisible, sinkContract } from '../contracts/sink.contract.ts';
import { readEvents } from './fixtures/file-two-phase-commit-sink.ts';
import {
  appendWriteAheadCase,
  appendWriteAheadCommitFailsCase,
  fileWriteAheadCase,
  fileWriteAheadCommitFailsCase,
  readSent,
} from './fixtures/file-write-ahead-sink.ts';
import { handDriven, noContext, type HandDriven } from './fixtures/hand-driven-context.ts';
import { assertExactlyOnce, tally, withTarget } from './fixtures/run-until-visible.ts';

// Failure cases inline; threads are covered by the suite's process and rescale runs.
sinkContract(fileWriteAheadCase, { parallelisms: [1] });

const COUNT = 2000;

/** The key whose commitCheckpoint failed, from the events. */
function failedKey(events: readonly string[]): string {
  const key = events.find((e) => e.startsWith('failed to commit '))?.slice('failed to commit '.length);
  assert.ok(key !== undefined, `the injected failure fired: ${events.slice(0, 20).join('; ')}`);
  return key;
}

/** Asserts the committer's promise: no checkpoint is sent again once it was recorded committed. */
function assertNoSendAfterCommit(events: readonly string[]): void {
  const committed = new Set<string>();
  for (const e of events) {
    const [what, key] = e.split(' ');
    if (what === 'commit') committed.add(key!);
    if (what === 'send') assert.ok(!committed.has(key!), `${key} was sent again after it was committed`);
  }
}

describe('GenericWriteAheadSink: a failure between sendValues and commitCheckpoint', () => {
  it('p=2, idempotent sends: the restore sends the checkpoint again under the same key, every record once', async () => {
    const c = fileWriteAheadCommitFailsCase;
    await withTarget(c, async (target) => {
      const { visible, restarts } = await runSinkJobUntilVisible(c, target, { parallelism: 2, count: COUNT });
      assert.ok(restarts >= 1, `the failed commit restarted the job (restarts: ${restarts})`);
      assertExactlyOnce(visible, COUNT, 'after a failure before commitCheckpoint');
      const events = readEvents(target);
      const key = failedKey(events);
      const sends = events.filter((e) => e.startsWith(`send ${key} `));
      assert.equal(sends.length, 2, `${key} was sent, failed to commit, and was sent again on restore: ${sends.join('; ')}`);
      assert.ok(events.includes(`commit ${key}`), `${key} was committed after the restore`);
      assertNoSendAfterCommit(events);
    });
  });

  it('p=2, appending sends: that checkpoint\'s values are written twice, and nothing else is (at-least-once in this window only)', async () => {
    const c = appendWriteAheadCommitFailsCase;
    await withTarget(c, async (target) => {
      const { visible, restarts } = await runSinkJobUntilVisible(c, target, { parallelism: 2, count: COUNT });
      assert.ok(restarts >= 1, `the failed commit restarted the job (restarts: ${restarts})`);
      const events = readEvents(target);
      const key = failedKey(events);
      const t = tally(visible, COUNT);
      assert.deepEqual(t.missing, [], 'nothing is lost');
      assert.deepEqual(t.foreign, [], 'nothing foreign');
      const ofFailed = readSent(target).filter((s) => s.key === key).map((s) => s.record);
      const once = new Set(ofFailed);
      assert.ok(once.size > 0, `${key} held records`);
      assert.equal(ofFailed.length, 2 * once.size, `each record of ${key} was written twice`);
      assert.deepEqual([...t.repeated.keys()].sort(), [...once].sort(), `the repeated records are exactly those of ${key}`);
      for (const n of t.repeated.values()) assert.equal(n, 2);
      assertNoSendAfterCommit(events);
    });
  });
});

describe('GenericWriteAheadSink: the committer keeps a restore from sending committed checkpoints again', () => {
  // One parallelism: the keys of several subtasks are covered by the rescale runs of the suite.
  for (const p of [1]) {
    it(`p=${p}, appending sends, a failure between a checkpoint's snapshot and its completion: no committed checkpoint is sent again`, async (t) => {
      const c = appendWriteAheadCase;
      await withTarget(c, async (target) => {
        const { visible, restarts } = await runSinkJobUntilVisible(c, target, { parallelism: p, count: COUNT, faults: [{ at: 'snapshot', attempt: 0, after: 3 }] });
        assert.ok(restarts >= 1, `the failed checkpoint restarted the job (restarts: ${restarts})`);
        const events = readEvents(target);
        assertNoSendAfterCommit(events);
        const keysSent = new Set(events.filter((e) => e.startsWith('send ')).map((e) => e.split(' ')[1]!));
        const sends = events.filter((e) => e.startsWith('send ')).length;
        // No commit failed, so each checkpoint is sent once unless a failure cut a send from its commit.
        if (sends === keysSent.size) assertExactlyOnce(visible, COUNT, 'after a failure between snapshot and completion');
        else assert.deepEqual(tally(visible, COUNT).missing, [], 'nothing is lost');
        t.diagnostic(`${events.filter((e) => e.startsWith('skip ')).length} restored checkpoints found committed and skipped`);
      });
    });
  }
});

/** A committer in memory, recording its calls. */
class MemoryCommitter extends CheckpointCommitter {
  readonly committed = new Set<string>();
  readonly calls: string[] = [];
  createResource(): void {
    this.calls.push('createResource');
  }
  open(): void {
    this.calls.push('open');
  }
  close(): void {
    this.calls.push('close');
  }
  commitCheckpoint(subtask: number, checkpoint: number, job: string): void {
    this.committed.add(`${job}/${subtask}/${checkpoint}`);
  }
  isCheckpointCommitted(subtask: number, checkpoint: number, job: string): boolean {
    return this.committed.has(`${job}/${subtask}/${checkpoint}`);
  }
}

/** Sends into memory; refuses the next `refuse` sends. */
class MemorySink extends GenericWriteAheadSink<string> {
  sent: { values: string[]; checkpointId: number; timestamp: number; key: CheckpointKey }[] = [];
  refuse = 0;
  protected async sendValues(values: readonly string[], checkpointId: number, timestamp: number, key: CheckpointKey): Promise<boolean> {
    if (this.refuse > 0) {
      this.refuse--;
      return false;
    }
    this.sent.push({ values: [...values], checkpointId, timestamp, key });
    return true;
  }
}

async function openedSink(sink: MemorySink, d: HandDriven): Promise<MemorySink> {
  sink.setRuntimeContext(d.runtime);
  await sink.initializeState(d.init());
  await sink.open();
  return sink;
}

describe('GenericWriteAheadSink, driven by hand', () => {
  it('holds each checkpoint\'s records until it completes; a refused send is retried at the next completion', async () => {
    const committer = new MemoryCommitter();
    const d = handDriven({ jobId: 'j1', index: 1, parallelism: 2 });
    const sink = await openedSink(new MemorySink(committer), d);
    sink.invoke('a', noContext);
    sink.invoke('b', noContext);
    sink.snapshotState(d.snapshot(1));
    sink.invoke('c', noContext);
    sink.snapshotState(d.snapshot(2));
    sink.snapshotState(d.snapshot(3)); // nothing since 2: nothing held for 3
    assert.equal(sink.sent.length, 0, 'nothing is written before its checkpoint completes');
    assert.equal(d.lists.get('pending-checkpoints')!.values.length, 2);
    sink.refuse = 1;
    await sink.notifyCheckpointComplete(1);
    assert.equal(sink.sent.length, 0, 'refused');
    await sink.notifyCheckpointComplete(3);
    assert.deepEqual(
      sink.sent.map((s) => [s.values, s.checkpointId, s.timestamp, s.key]),
      [
        [['a', 'b'], 1, 1001, { jobId: 'j1', subtaskIdx: 1, checkpointId: 1 }],
        [['c'], 2, 1002, { jobId: 'j1', subtaskIdx: 1, checkpointId: 2 }],
      ],
    );
    assert.deepEqual([...committer.committed], ['j1/1/1', 'j1/1/2']);
    sink.snapshotState(d.snapshot(4));
    assert.deepEqual(d.lists.get('pending-checkpoints')!.values, [], 'sent checkpoints leave the state');
    await sink.close();
    assert.deepEqual(committer.calls, ['createResource', 'open', 'close']);
  });

  it('a restore (here into another job at another parallelism) keeps the keys of the snapshot that took the values, skips committed ones, and sends at the next completion', async () => {
    const committer = new MemoryCommitter();
    const first = handDriven({ jobId: 'old', index: 1, parallelism: 2 });
    const before = await openedSink(new MemorySink(committer), first);
    before.invoke('a', noContext);
    before.snapshotState(first.snapshot(4));
    before.invoke('b', noContext);
    before.snapshotState(first.snapshot(5));
    // Checkpoint 5 holds 4 and 5. Then 4's completion wrote and committed 4, and the job failed
    // before 5's completion was announced.
    const stored = first.lists.get('pending-checkpoints')!.get();
    assert.equal(stored.length, 2);
    await before.notifyCheckpointComplete(4);
    assert.equal(before.sent.length, 1);
    const d = handDriven({ jobId: 'new', index: 0, parallelism: 1 }, { 'pending-checkpoints': stored });
    const sink = await openedSink(new MemorySink(committer), d);
    assert.equal(sink.sent.length, 0, 'nothing is sent while the state is initialized');
    sink.invoke('c', noContext);
    sink.snapshotState(d.snapshot(6));
    await sink.notifyCheckpointComplete(6);
    assert.deepEqual(
      sink.sent.map((s) => [s.values, s.key]),
      [
        [['b'], { jobId: 'old', subtaskIdx: 1, checkpointId: 5 }],
        [['c'], { jobId: 'new', subtaskIdx: 0, checkpointId: 6 }],
      ],
      'checkpoint 4 was committed: skipped',
    );
  });

  it('values go through the codec, with its version stored', async () => {
    const codec = { version: 7, toPlain: (v: string) => v.toUpperCase(), fromPlain: (p: unknown, version: number) => `${String(p).toLowerCase()}@${version}` };
    const d = handDriven({});
    const sink = await openedSink(new MemorySink(new MemoryCommitter(), { valueCodec: codec }), d);
    sink.invoke('x', noContext);
    sink.snapshotState(d.snapshot(1));
    assert.deepEqual(d.lists.get('pending-checkpoints')!.values, [{ checkpointId: 1, subtask: 0, jobId: 'job', timestamp: 1001, values: ['X'], codecVersion: 7 }]);
    await sink.notifyCheckpointComplete(1);
    assert.deepEqual(sink.sent[0]!.values, ['x@7']);
  });

  it('end of input: with checkpointing the last records wait for the final checkpoint; without, they are sent at once', async () => {
    const d = handDriven({});
    const waiting = await openedSink(new MemorySink(new MemoryCommitter()), d);
    waiting.invoke('a', noContext);
    await waiting.finish();
    assert.equal(waiting.sent.length, 0);
    waiting.snapshotState(d.snapshot(9));
    await waiting.notifyCheckpointComplete(9);
    assert.deepEqual(waiting.sent.map((s) => s.values), [['a']]);

    const direct = await openedSink(new MemorySink(new MemoryCommitter()), handDriven({}, undefined, { isCheckpointingEnabled: () => false }));
    direct.invoke('b', noContext);
    await direct.finish();
    assert.deepEqual(direct.sent.map((s) => [s.values, s.checkpointId]), [[['b'], NO_CHECKPOINT_ID]]);

    const refused = await openedSink(new MemorySink(new MemoryCommitter()), handDriven({}, undefined, { isCheckpointingEnabled: () => false }));
    refused.refuse = 1;
    refused.invoke('c', noContext);
    await assert.rejects(refused.finish(), /refused the records at the end of input/);
  });
});
