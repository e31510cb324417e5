import assert from 'node:assert/strict';
import type { CheckpointId } from '../../src/core/ids.ts';
import { describe, it } from 'node:test';
import type { AlignmentType, CheckpointOptions } from '../../src/checkpoint/checkpoint-options.ts';
import { BarrierHandler } from '../../src/runtime/checkpoint/barrier-handler/barrier-handler.ts';
import { CollectingBarriers } from '../../src/runtime/checkpoint/barrier-handler/collecting-barriers.ts';
import { CountingBarriers } from '../../src/runtime/checkpoint/barrier-handler/counting-barriers.ts';
import { UnalignedBarriers } from '../../src/runtime/checkpoint/barrier-handler/unaligned-barriers.ts';
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

  it('WaitingForFirstBarrier ignores end of partition; an unaligned barrier starts UnalignedBarriers', () => {
    const a = new BarrierHandler(2, clock().now);
    assert.deepEqual(a.onEndOfPartition(0), { kind: 'none' });
    assert.ok(inState(a, WaitingForFirstBarrier));
    assert.equal(a.onBarrier(1, barrier(1, 0, optionsOf('unaligned')), true).kind, 'unaligned');
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

describe('BarrierHandler, unaligned and the aligned-checkpoint timeout', () => {
  const UNALIGNED = optionsOf('unaligned');
  const withTimeout = (ms: number): CheckpointOptions => ({ ...ALIGNED, alignedTimeoutMs: ms });

  it('snapshots at the first barrier, never blocks, and ends when every channel delivered it', () => {
    const c = clock();
    const a = new BarrierHandler(3, c.now);
    const first = a.onBarrier(2, barrier(4, 900, UNALIGNED), true);
    assert.equal(first.kind, 'unaligned');
    if (first.kind !== 'unaligned') return;
    assert.equal(first.checkpointId, 4);
    assert.deepEqual(first.delivered, [false, false, false], 'nothing had arrived before the switch');
    assert.equal(first.firstBarrierAt, 1000);
    assert.ok(inState(a, UnalignedBarriers));
    for (const ch of [0, 1, 2]) assert.equal(a.isBlocked(ch), false);
    assert.deepEqual(a.onBarrier(0, barrier(4, 900, UNALIGNED), true), { kind: 'none' });
    assert.equal(a.isBlocked(0), false);
    assert.deepEqual(a.onEndOfPartition(1), { kind: 'none' });
    assert.ok(inState(a, WaitingForFirstBarrier), 'the last open channel is in: nothing more to count');
    assert.deepEqual(a.onBarrier(0, barrier(4, 900, UNALIGNED), true), { kind: 'none' }, 'its barriers are ignored afterwards');
  });

  it('a newer barrier abandons an unaligned checkpoint still collecting barriers', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(1, 0, UNALIGNED), true);
    const step = a.onBarrier(1, barrier(2, 0, UNALIGNED), true);
    assert.equal(step.kind, 'unaligned');
    if (step.kind === 'unaligned') {
      assert.equal(step.checkpointId, 2);
      assert.equal(step.abandoned, 1);
    }
  });

  it('an aligned checkpoint whose timeout passes goes unaligned: blocked channels are released and reported as delivered', () => {
    const c = clock();
    const timers: { id: number; at: number }[] = [];
    const a = new BarrierHandler(3, c.now, (id, at) => timers.push({ id, at }));
    assert.deepEqual(a.onBarrier(0, barrier(5, 990, withTimeout(50))), { kind: 'none' });
    assert.deepEqual(timers, [{ id: 5, at: 1040 }], 'the timeout counts from the trigger (the barrier timestamp)');
    assert.equal(a.isBlocked(0), true);
    c.advance(40);
    assert.deepEqual(a.onAlignmentTimeout(4 as CheckpointId), { kind: 'none' }, 'another checkpoint’s timer changes nothing');
    const step = a.onAlignmentTimeout(5 as CheckpointId);
    assert.equal(step.kind, 'unaligned');
    if (step.kind === 'unaligned') {
      assert.deepEqual(step.delivered, [true, false, false]);
      assert.equal(step.alignmentMs, 40);
    }
    assert.equal(a.isBlocked(0), false);
    assert.ok(inState(a, UnalignedBarriers));
    assert.deepEqual(a.onBarrier(1, barrier(5, 990, withTimeout(50))), { kind: 'none' }, 'late in-band barriers are only counted');
    assert.deepEqual(a.onBarrier(2, barrier(5, 990, withTimeout(50))), { kind: 'none' });
    assert.ok(inState(a, WaitingForFirstBarrier));
  });

  it('an in-band barrier taken after the deadline switches; its channel and the blocked ones need no channel state', () => {
    const c = clock();
    const a = new BarrierHandler(3, c.now, () => {});
    a.onBarrier(0, barrier(6, 1000, withTimeout(50)));
    c.advance(100);
    const switched = a.onBarrier(1, barrier(6, 1000, withTimeout(50)));
    assert.equal(switched.kind, 'unaligned');
    if (switched.kind === 'unaligned') assert.deepEqual(switched.delivered, [true, true, false]);
    assert.equal(a.isBlocked(0), false);
  });

  it('an aligned checkpoint that completes before its timeout stays aligned; the late timer changes nothing', () => {
    const c = clock();
    const a = new BarrierHandler(2, c.now, () => {});
    a.onBarrier(0, barrier(5, 1000, withTimeout(1000)));
    assert.equal(a.onBarrier(1, barrier(5, 1000, withTimeout(1000))).kind, 'complete');
    c.advance(2000);
    assert.deepEqual(a.onAlignmentTimeout(5 as CheckpointId), { kind: 'none' });
  });

  it('a first barrier that arrives after the timeout already passed (the start delay) goes unaligned at once', () => {
    const c = clock();
    const timers: number[] = [];
    const a = new BarrierHandler(2, c.now, (_id, at) => timers.push(at));
    const step = a.onBarrier(1, barrier(3, 100, withTimeout(10)));
    assert.equal(step.kind, 'unaligned');
    if (step.kind === 'unaligned') assert.deepEqual(step.delivered, [false, true], 'the channel whose in-band barrier started it needs no channel state');
    assert.deepEqual(timers, [], 'no timer for a timeout that already passed');
    assert.equal(a.isBlocked(1), false);
  });

  it('a priority barrier during an aligned checkpoint turns it unaligned (an upstream subtask timed out)', () => {
    const a = new BarrierHandler(3, clock().now, () => {});
    a.onBarrier(0, barrier(8, 1000, withTimeout(5000)));
    const step = a.onBarrier(2, barrier(8, 1000, withTimeout(5000)), true);
    assert.equal(step.kind, 'unaligned');
    if (step.kind === 'unaligned') assert.deepEqual(step.delivered, [true, false, false]);
    assert.equal(a.isBlocked(0), false);
  });

  it('an aligned checkpoint without a timeout ignores priority only in the sense that it switches too', () => {
    const a = new BarrierHandler(2, clock().now);
    a.onBarrier(0, barrier(9, 1000));
    assert.equal(a.onBarrier(1, barrier(9, 1000), true).kind, 'unaligned');
  });
});
