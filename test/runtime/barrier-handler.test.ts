import assert from 'node:assert/strict';
import type { CheckpointId } from '../../src/core/ids.ts';
import { describe, it } from 'node:test';
import type { AlignmentType, CheckpointOptions } from '../../src/checkpoint/checkpoint-options.ts';
import { BarrierHandler } from '../../src/runtime/checkpoint/barrier-handler/barrier-handler.ts';
import { CollectingBarriers } from '../../src/runtime/checkpoint/barrier-handler/collecting-barriers.ts';
import { CountingBarriers } from '../../src/runtime/checkpoint/barrier-handler/counting-barriers.ts';
import { WaitingForFirstBarrier } from '../../src/runtime/checkpoint/barrier-handler/waiting-for-first-barrier.ts';
import type { CheckpointBarrier } from '../../src/runtime/events.ts';

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const optionsOf = (alignment: AlignmentType): CheckpointOptions => ({ type: 'checkpoint', snapshotType: 'full', alignment });
const ALIGNED = optionsOf('aligned');
const AT_LEAST_ONCE = optionsOf('at-least-once');
const SAVEPOINT: CheckpointOptions = { type: 'savepoint', snapshotType: 'full', alignment: 'aligned', targetLocation: '/sp' };

/** Whether the handler's current state is an instance of `cls`. */
function inState(h: BarrierHandler, cls: abstract new (...args: never[]) => unknown): boolean {
  return h.state instanceof cls;
}

function barrier(checkpointId: number, timestamp: number, options: CheckpointOptions = ALIGNED): CheckpointBarrier {
  return { kind: 'checkpoint-barrier', checkpointId: checkpointId as CheckpointId, timestamp, options };
}

describe('BarrierHandler, aligned (exactly-once)', () => {
  it('blocks each channel that delivered the barrier until every channel has, then completes with the alignment time', () => {
    const c = clock();
    const a = new BarrierHandler(3, c.now);
    assert.deepEqual(a.onBarrier(1, barrier(7, 500)), { kind: 'none' });
    assert.equal(a.isBlocked(1), true);
    assert.equal(a.isBlocked(0), false);
    c.advance(5);
    assert.deepEqual(a.onBarrier(0, barrier(7, 500)), { kind: 'none' });
    assert.equal(a.isBlocked(0), true);
    c.advance(3);
    const step = a.onBarrier(2, barrier(7, 500));
    assert.deepEqual(step, { kind: 'complete', checkpointId: 7, timestamp: 500, options: ALIGNED, alignmentMs: 8, firstBarrierAt: 1000 });
    for (const ch of [0, 1, 2]) assert.equal(a.isBlocked(ch), false);
  });

  it('a single channel completes at once', () => {
    const a = new BarrierHandler(1, clock().now);
    assert.equal(a.onBarrier(0, barrier(1, 0)).kind, 'complete');
  });

  it('an ended channel counts as aligned, before or during an alignment', () => {
    const a = new BarrierHandler(3, clock().now);
    a.onEndOfPartition(2);
    a.onBarrier(0, barrier(1, 0));
    assert.equal(a.onEndOfPartition(1).kind, 'complete');
    // A channel that delivered the barrier and then ended no longer counts.
    const b = new BarrierHandler(2, clock().now);
    b.onBarrier(0, barrier(1, 0));
    assert.equal(b.onEndOfPartition(0).kind, 'none');
    assert.equal(b.onBarrier(1, barrier(1, 0)).kind, 'complete');
  });

  it('a newer barrier abandons the older checkpoint; late barriers of it are ignored', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(1, 0));
    assert.deepEqual(a.onBarrier(1, barrier(2, 0)), { kind: 'abandoned', checkpointId: 1 });
    assert.equal(a.aligning, 2);
    assert.equal(a.isBlocked(0), false, 'channel 0 has not delivered barrier 2 yet');
    assert.deepEqual(a.onBarrier(0, barrier(1, 0)), { kind: 'none' }, 'stale barrier');
    const done = a.onBarrier(0, barrier(2, 0));
    assert.equal(done.kind, 'complete');
  });

  it('abort() stops the alignment and unblocks; barriers of that checkpoint are then ignored', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(4, 0));
    assert.equal(a.abort((4 as CheckpointId)), true);
    assert.equal(a.isBlocked(0), false);
    assert.deepEqual(a.onBarrier(1, barrier(4, 0)), { kind: 'none' });
    assert.equal(a.abort((9 as CheckpointId)), false, 'nothing aligning');
    assert.deepEqual(a.onBarrier(0, barrier(9, 0)), { kind: 'none' }, 'aborted before its barriers arrived');
    assert.equal(a.onBarrier(0, barrier(10, 0)).kind, 'none');
    assert.equal(a.onBarrier(1, barrier(10, 0)).kind, 'complete');
  });
});

describe('BarrierHandler, at-least-once (counting)', () => {
  it('never blocks a channel and completes when every channel delivered the barrier', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(1, 0, AT_LEAST_ONCE));
    assert.equal(a.isBlocked(0), false);
    assert.equal(a.onBarrier(0, barrier(1, 0, AT_LEAST_ONCE)).kind, 'none', 'a repeated barrier on one channel counts once');
    assert.equal(a.onBarrier(1, barrier(1, 0, AT_LEAST_ONCE)).kind, 'complete');
  });

  it('a savepoint in an at-least-once job arrives aligned and blocks; the next plain checkpoint does not', () => {
    const a = new BarrierHandler(2, () => 0);
    assert.deepEqual(a.onBarrier(0, barrier(1, 0, SAVEPOINT)), { kind: 'none' });
    assert.equal(a.isBlocked(0), true, 'records after the savepoint barrier wait');
    const done = a.onBarrier(1, barrier(1, 0, SAVEPOINT));
    assert.equal(done.kind, 'complete');
    assert.equal(done.kind === 'complete' && done.options.targetLocation, '/sp', 'the completed step carries the barrier options');
    assert.equal(a.isBlocked(0), false);
    a.onBarrier(0, barrier(2, 0, AT_LEAST_ONCE));
    assert.equal(a.isBlocked(0), false);
    assert.equal(a.onBarrier(1, barrier(2, 0, AT_LEAST_ONCE)).kind, 'complete');
  });
});

describe('barrier-handling states: transitions', () => {
  it('WaitingForFirstBarrier → CollectingBarriers on an aligned barrier, and back on completion', () => {
    const a = new BarrierHandler(2, clock().now);
    assert.ok(inState(a, WaitingForFirstBarrier));
    a.onBarrier(0, barrier(1, 0));
    assert.ok(inState(a, CollectingBarriers));
    assert.equal(a.aligning, 1);
    a.onBarrier(1, barrier(1, 0));
    assert.ok(inState(a, WaitingForFirstBarrier));
    assert.equal(a.aligning, undefined);
  });

  it('WaitingForFirstBarrier → CountingBarriers on an at-least-once barrier, and back on completion', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(1, barrier(3, 0, AT_LEAST_ONCE));
    assert.ok(inState(a, CountingBarriers));
    a.onBarrier(0, barrier(3, 0, AT_LEAST_ONCE));
    assert.ok(inState(a, WaitingForFirstBarrier));
  });

  it('WaitingForFirstBarrier completes at once (single channel) without leaving idle', () => {
    const a = new BarrierHandler(1, clock().now);
    assert.equal(a.onBarrier(0, barrier(1, 0, AT_LEAST_ONCE)).kind, 'complete');
    assert.ok(inState(a, WaitingForFirstBarrier));
  });

  it('WaitingForFirstBarrier ignores end of partition, and an unaligned barrier is refused until a state handles it', () => {
    const a = new BarrierHandler(2, clock().now);
    assert.deepEqual(a.onEndOfPartition(0), { kind: 'none' });
    assert.ok(inState(a, WaitingForFirstBarrier));
    assert.throws(() => a.onBarrier(1, barrier(1, 0, optionsOf('unaligned'))), /unaligned checkpoints are not supported/);
  });

  it('CountingBarriers → CollectingBarriers when a newer savepoint barrier arrives (the older one is abandoned)', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(1, 0, AT_LEAST_ONCE));
    assert.deepEqual(a.onBarrier(0, barrier(2, 0, SAVEPOINT)), { kind: 'abandoned', checkpointId: 1 });
    assert.ok(inState(a, CollectingBarriers));
    assert.equal(a.isBlocked(0), true);
  });

  it('CollectingBarriers → CountingBarriers when a newer at-least-once barrier arrives; blocked channels are released', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(1, 0));
    assert.equal(a.isBlocked(0), true);
    assert.deepEqual(a.onBarrier(1, barrier(2, 0, AT_LEAST_ONCE)), { kind: 'abandoned', checkpointId: 1 });
    assert.ok(inState(a, CountingBarriers));
    assert.equal(a.isBlocked(0), false);
  });

  it('a newer barrier that completes at once reports both the abandoned and the completed checkpoint', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(1, 0, AT_LEAST_ONCE));
    a.onEndOfPartition(0); // channel 0's barrier no longer counts; channel 1 is the only open one
    const step = a.onBarrier(1, barrier(2, 0));
    assert.deepEqual(step, { kind: 'complete', checkpointId: 2, timestamp: 0, options: ALIGNED, alignmentMs: 0, firstBarrierAt: 1000, abandoned: 1 });
    assert.ok(inState(a, WaitingForFirstBarrier));
  });

  it('CollectingBarriers: aborting an older checkpoint leaves the alignment and its blocked channels as they are', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(5, 0));
    assert.equal(a.abort((3 as CheckpointId)), false);
    assert.ok(inState(a, CollectingBarriers));
    assert.equal(a.isBlocked(0), true);
    assert.deepEqual(a.onBarrier(1, barrier(3, 0)), { kind: 'none' }, 'the aborted one is ignored');
    assert.equal(a.onBarrier(1, barrier(5, 0)).kind, 'complete');
  });

  it('CountingBarriers → WaitingForFirstBarrier on abort of its checkpoint', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(2, 0, AT_LEAST_ONCE));
    assert.equal(a.abort((2 as CheckpointId)), true);
    assert.ok(inState(a, WaitingForFirstBarrier));
    assert.deepEqual(a.onBarrier(1, barrier(2, 0, AT_LEAST_ONCE)), { kind: 'none' });
  });

  it('CollectingBarriers → WaitingForFirstBarrier when the last open channel that lacked the barrier ends', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(1, 0));
    const step = a.onEndOfPartition(1);
    assert.equal(step.kind, 'complete');
    assert.ok(inState(a, WaitingForFirstBarrier));
    assert.equal(a.isBlocked(0), false);
  });
});
