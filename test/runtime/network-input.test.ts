/**
 * NetworkInput around unaligned checkpoints, with a real local channel and a recording stand-in
 * for the task's checkpointing: restored channel state is processed to its last record before a
 * priority barrier is taken (a snapshot part-way through a replayed batch would lose the rest of
 * it), and once the replay is done a waiting priority barrier is taken even while the task is
 * back-pressured. And a channel's side of it: the count a priority barrier carries of what it
 * overtook, and the tap that hands an unaligned checkpoint exactly the items sent before its
 * barrier.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckpointId } from '../../src/core/ids.ts';
import { ALIGNED_CHECKPOINT } from '../../src/checkpoint/checkpoint-options.ts';
import { LocalChannel } from '../../src/runtime/channel/local-channel.ts';
import type { CheckpointBarrier } from '../../src/runtime/events.ts';
import { SimpleCounter } from '../../src/runtime/metrics/simple-counter.ts';
import type { StreamOperator } from '../../src/runtime/operators/operator.ts';
import { Backpressure } from '../../src/runtime/record-writer.ts';
import type { CheckpointParticipant } from '../../src/runtime/task/checkpoint-participant.ts';
import { NetworkInput, type NetworkInputHost } from '../../src/runtime/task/network-input.ts';
import type { TaskLifecycle } from '../../src/runtime/task/task-lifecycle.ts';
import type { TaskMailbox } from '../../src/runtime/task/task-mailbox.ts';

const BARRIER: CheckpointBarrier = { kind: 'checkpoint-barrier', checkpointId: 7 as CheckpointId, timestamp: 0, options: { ...ALIGNED_CHECKPOINT, alignment: 'unaligned' } };

function harness() {
  const processed: number[] = [];
  const head = {
    processElement(v: unknown) {
      // Slow enough that one burst (a time slice of a few ms) ends part-way through a batch.
      const until = performance.now() + 0.05;
      while (performance.now() < until);
      processed.push(v as number);
    },
    processWatermark() {},
    processWatermarkStatus() {},
  } as unknown as StreamOperator;
  const taken: { at: number; priority: boolean | undefined }[] = [];
  const checkpoints = {
    barriers: { isBlocked: () => false },
    stopPending: undefined,
    recording: undefined,
    onBarrier: (_channel: number, _b: CheckpointBarrier, _n: number, priority?: boolean) => taken.push({ at: processed.length, priority }),
    onEndOfPartition() {},
    onCancelMarker() {},
    onBarrierQueued() {},
  } as unknown as CheckpointParticipant;
  const backpressure = new Backpressure();
  const host: NetworkInputHost = {
    lifecycle: { state: 'RUNNING', running: true } as unknown as TaskLifecycle,
    mailbox: { suspended: 0, schedule() {} } as unknown as TaskMailbox,
    backpressure,
    checkpoints,
    endInput: async () => {},
  };
  const channel = new LocalChannel(4);
  const input = new NetworkInput([{ channel: channel.input, input: 0 }], head, false, host, new SimpleCounter());
  return { input, channel, processed, taken, backpressure };
}

const batch = (from: number, n: number) => ({ values: Array.from({ length: n }, (_, i) => from + i), timestamps: null, count: n });

test('a priority barrier waits until the last replayed batch is processed to its end', () => {
  const h = harness();
  h.input.replayFirst([{ input: 0, channel: undefined, item: { kind: 'records', batch: batch(0, 400) } }]);
  h.input.start();
  h.input.processInput();
  assert.ok(h.processed.length > 0 && h.processed.length < 400, `the first burst ends part-way through the replayed batch (${h.processed.length})`);
  h.channel.output.sendPriorityBarrier(BARRIER);
  while (h.taken.length === 0 && h.processed.length < 1000) h.input.processInput();
  assert.deepEqual(h.taken, [{ at: 400, priority: true }], 'taken only after every replayed record');
});

test('after the replay, a waiting priority barrier is taken before queued records, even while back-pressured', () => {
  const h = harness();
  h.input.start();
  h.channel.output.sendBatch(batch(0, 10));
  h.channel.output.sendPriorityBarrier(BARRIER);
  h.backpressure.block();
  h.input.processInput();
  assert.deepEqual(h.taken, [{ at: 0, priority: true }], 'the barrier overtook the queued batch');
  assert.deepEqual(h.processed, [], 'nothing was processed while back-pressured');
  h.backpressure.release();
  h.input.processInput();
  assert.deepEqual(h.processed, batch(0, 10).values);
});

test('a priority barrier counts what it overtook at both ends, and the tap hands over exactly that, in order', () => {
  const ch = new LocalChannel(1);
  ch.output.sendBatch(batch(0, 2)); // sent: the one credit
  ch.output.sendBatch(batch(2, 2)); // waits for credit at the producer
  ch.output.sendPriorityBarrier(BARRIER); // overtakes both; the waiting one follows right behind it
  ch.output.sendBatch(batch(4, 2)); // after the barrier
  const first = ch.input.poll();
  assert.deepEqual(first, { kind: 'priority-barrier', barrier: BARRIER, ahead: 2 }, 'taken before the queued batches, two of which belong before it');
  const handed: unknown[] = [];
  let done = false;
  ch.input.tap(7, (item) => handed.push(item.kind === 'records' ? item.batch.values : item.kind), () => (done = true));
  assert.deepEqual(handed, [batch(0, 2).values, batch(2, 2).values]);
  assert.equal(done, true);
  const rest: unknown[] = [];
  for (let item = ch.input.poll(); item !== undefined; item = ch.input.poll()) rest.push(item.kind === 'records' ? item.batch.values : item.kind);
  assert.deepEqual(rest, [batch(0, 2).values, batch(2, 2).values], 'the consumer still takes them, in order');
  assert.equal(ch.output.available, false, 'what followed the barrier waits for credit: the overtaken batch was sent on credit not yet returned');
});

test('a tap started before the barrier arrives hands over what arrives until its in-band barrier', () => {
  const ch = new LocalChannel(8);
  ch.output.sendBatch(batch(0, 1));
  const handed: unknown[] = [];
  let done = false;
  ch.input.tap(7, (item) => handed.push(item.kind === 'records' ? item.batch.values : item.kind), () => (done = true));
  assert.deepEqual(handed, [[0]]);
  assert.equal(done, false, 'its barrier has not come yet');
  ch.output.sendEvent({ kind: 'watermark', timestamp: 5 });
  ch.output.sendBatch(batch(1, 1));
  ch.output.sendEvent({ ...BARRIER, options: ALIGNED_CHECKPOINT });
  ch.output.sendBatch(batch(2, 1));
  assert.deepEqual(handed, [[0], 'watermark', [1]], 'up to the barrier, nothing after it');
  assert.equal(done, true);
});
