import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BarrierAligner } from '../../src/runtime/checkpoint/barrier-aligner.ts';

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('BarrierAligner, aligned (exactly-once)', () => {
  it('blocks each channel that delivered the barrier until every channel has, then completes with the alignment time', () => {
    const c = clock();
    const a = new BarrierAligner(3, 'aligned', c.now);
    assert.deepEqual(a.onBarrier(1, 7, 500), { kind: 'none' });
    assert.equal(a.isBlocked(1), true);
    assert.equal(a.isBlocked(0), false);
    c.advance(5);
    assert.deepEqual(a.onBarrier(0, 7, 500), { kind: 'none' });
    assert.equal(a.isBlocked(0), true);
    c.advance(3);
    const step = a.onBarrier(2, 7, 500);
    assert.deepEqual(step, { kind: 'complete', checkpointId: 7, timestamp: 500, alignmentMs: 8, firstBarrierAt: 1000 });
    for (const ch of [0, 1, 2]) assert.equal(a.isBlocked(ch), false);
  });

  it('a single channel completes at once', () => {
    const a = new BarrierAligner(1, 'aligned', clock().now);
    assert.equal(a.onBarrier(0, 1, 0).kind, 'complete');
  });

  it('an ended channel counts as aligned, before or during an alignment', () => {
    const a = new BarrierAligner(3, 'aligned', clock().now);
    a.onEndOfPartition(2);
    a.onBarrier(0, 1, 0);
    assert.equal(a.onEndOfPartition(1).kind, 'complete');
    // A channel that delivered the barrier and then ended no longer counts.
    const b = new BarrierAligner(2, 'aligned', clock().now);
    b.onBarrier(0, 1, 0);
    assert.equal(b.onEndOfPartition(0).kind, 'none');
    assert.equal(b.onBarrier(1, 1, 0).kind, 'complete');
  });

  it('a newer barrier abandons the older checkpoint; late barriers of it are ignored', () => {
    const a = new BarrierAligner(2, 'aligned', clock().now);
    a.onBarrier(0, 1, 0);
    assert.deepEqual(a.onBarrier(1, 2, 0), { kind: 'abandoned', checkpointId: 1 });
    assert.equal(a.aligning, 2);
    assert.equal(a.isBlocked(0), false, 'channel 0 has not delivered barrier 2 yet');
    assert.deepEqual(a.onBarrier(0, 1, 0), { kind: 'none' }, 'stale barrier');
    const done = a.onBarrier(0, 2, 0);
    assert.equal(done.kind, 'complete');
  });

  it('abort() stops the alignment and unblocks; barriers of that checkpoint are then ignored', () => {
    const a = new BarrierAligner(2, 'aligned', clock().now);
    a.onBarrier(0, 4, 0);
    assert.equal(a.abort(4), true);
    assert.equal(a.isBlocked(0), false);
    assert.deepEqual(a.onBarrier(1, 4, 0), { kind: 'none' });
    assert.equal(a.abort(9), false, 'nothing aligning');
    assert.deepEqual(a.onBarrier(0, 9, 0), { kind: 'none' }, 'aborted before its barriers arrived');
    assert.equal(a.onBarrier(0, 10, 0).kind, 'none');
    assert.equal(a.onBarrier(1, 10, 0).kind, 'complete');
  });
});

describe('BarrierAligner, counting (at-least-once)', () => {
  it('never blocks a channel and completes when every channel delivered the barrier', () => {
    const a = new BarrierAligner(2, 'counting', clock().now);
    a.onBarrier(0, 1, 0);
    assert.equal(a.isBlocked(0), false);
    assert.equal(a.onBarrier(0, 1, 0).kind, 'none', 'a repeated barrier on one channel counts once');
    assert.equal(a.onBarrier(1, 1, 0).kind, 'complete');
  });
});
