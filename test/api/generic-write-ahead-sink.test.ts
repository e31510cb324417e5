/**
 * GenericWriteAheadSink in real jobs, through file fixtures (fixtures/file-write-ahead-sink.ts)
 * with a CheckpointCommitter on files: the sink contract suite for a sink whose sends are
 * idempotent per checkpoint (exactly once) and for one that appends (at least once), and the
 * window the suite does not reach: a failure after sendValues and before commitCheckpoint. There
 * the idempotent sink stays exactly-once and the appending one writes that checkpoint's values
 * twice (Flink's documented limit), and nothing else twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sinkContract, type SinkContractCase } from '../contracts/sink.contract.ts';
import { readEvents } from './fixtures/file-two-phase-commit-sink.ts';
import {
  appendWriteAheadCase,
  appendWriteAheadCommitFailsCase,
  fileWriteAheadCase,
  fileWriteAheadCommitFailsCase,
  readSent,
} from './fixtures/file-write-ahead-sink.ts';
import { assertExactlyOnce, runUntilVisible, tally } from './fixtures/run-until-visible.ts';

sinkContract(fileWriteAheadCase);
// The appending variant only shows that nothing is lost; one parallelism is enough for that.
sinkContract(appendWriteAheadCase, { parallelisms: [1] });

const COUNT = 2000;

async function withTarget<T>(c: SinkContractCase, fn: (target: string) => Promise<T>): Promise<T> {
  const target = await c.createTarget();
  try {
    return await fn(target);
  } finally {
    await c.dropTarget?.(target);
  }
}

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
      const { visible, restarts } = await runUntilVisible(c, target, { parallelism: 2, count: COUNT });
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
      const { visible, restarts } = await runUntilVisible(c, target, { parallelism: 2, count: COUNT });
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
        const { visible, restarts } = await runUntilVisible(c, target, { parallelism: p, count: COUNT, faults: [{ at: 'snapshot', attempt: 0, after: 3 }] });
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
