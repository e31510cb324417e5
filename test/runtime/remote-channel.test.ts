import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { checkpointOptionsFor } from '../../src/checkpoint/checkpoint-options.ts';
import type { CheckpointId } from '../../src/core/ids.ts';
import type { ChannelItem } from '../../src/runtime/channel/channel.ts';
import { RemoteInput, RemoteOutput } from '../../src/runtime/channel/remote-channel.ts';
import type { CheckpointBarrier, RecordBatch } from '../../src/runtime/events.ts';

function channel(credits: number): { out: RemoteOutput; input: RemoteInput; close(): void } {
  const { port1, port2 } = new MessageChannel();
  const out = new RemoteOutput(port1, credits, 'a -> b');
  const input = new RemoteInput(port2);
  return {
    out,
    input,
    close() {
      out.close();
      input.close();
    },
  };
}

/** Takes `n` items as a task would: poll until empty, release each batch, then wait for the next arrival. */
async function take(input: RemoteInput, n: number, release = true): Promise<ChannelItem[]> {
  const items: ChannelItem[] = [];
  while (items.length < n) {
    for (let item = input.poll(); item !== undefined; item = items.length < n ? input.poll() : undefined) {
      items.push(item);
      if (item.kind === 'records' && release) input.release();
    }
    if (items.length < n) await new Promise<void>((resolve) => (input.onItem = resolve));
  }
  return items;
}

/** A batch as it arrives when sent without key groups (keys never cross threads). */
function batch(from: number, count: number, pad = ''): RecordBatch {
  const values = Array.from({ length: count }, (_, i) => ({ n: from + i, s: `${pad}${from + i}` }));
  return { values, timestamps: Float64Array.from(values, (v) => v.n * 2), count, keyGroups: null, keys: null };
}

function barrier(id: number): CheckpointBarrier {
  return { kind: 'checkpoint-barrier', checkpointId: id as CheckpointId, timestamp: id, options: checkpointOptionsFor({ isSavepoint: false }, 'unaligned') };
}

describe('remote channel (shared-memory ring)', () => {
  it('carries batches and events in order, many times round the ring, under credit', async () => {
    const { out, input, close } = channel(3);
    try {
      // About 40 KiB per batch (100 records), 150 batches: the 1 MiB ring wraps several times.
      const sent: ChannelItem[] = [];
      let next = 0;
      const consumed = take(input, 150 + 50);
      const produce = (): void => {
        while (out.available && next < 150) {
          const b = batch(next * 100, 100, 'x'.repeat(400));
          out.sendBatch(b);
          sent.push({ kind: 'records', batch: b });
          if (next % 3 === 0) {
            const wm = { kind: 'watermark', timestamp: next } as const;
            out.sendEvent(wm);
            sent.push(wm);
          }
          next++;
        }
      };
      out.onAvailable = produce;
      produce();
      const got = await consumed;
      assert.equal(next, 150);
      assert.deepStrictEqual(got, sent);
    } finally {
      close();
    }
  });

  it('sends a batch too large for the ring by message, in its place among the others', async () => {
    const { out, input, close } = channel(10);
    try {
      const large = batch(0, 2000, 'y'.repeat(200)); // about 400 KiB
      const sent = [batch(1, 3), large, batch(5, 2), large, batch(9, 1)];
      for (const b of sent) out.sendBatch(b);
      out.sendEvent({ kind: 'end-of-partition' });
      const got = await take(input, 6);
      assert.deepStrictEqual(
        got.slice(0, 5).map((i) => (i.kind === 'records' ? i.batch : i)),
        sent,
      );
      assert.deepStrictEqual(got[5], { kind: 'end-of-partition' });
    } finally {
      close();
    }
  });

  it('keeps entries that find the ring full until the consumer frees room', async () => {
    // Credit for far more than the ring holds: the ring, not credit, runs out first.
    const { out, input, close } = channel(100);
    try {
      const sent = Array.from({ length: 60 }, (_, i) => batch(i * 500, 500, 'z'.repeat(60)));
      for (const b of sent) out.sendBatch(b);
      out.sendEvent({ kind: 'end-of-data' });
      const got = await take(input, 61);
      assert.deepStrictEqual(
        got.slice(0, 60).map((i) => (i.kind === 'records' ? i.batch : i)),
        sent,
      );
      assert.deepStrictEqual(got[60], { kind: 'end-of-data' });
    } finally {
      close();
    }
  });

  it('lets a priority barrier overtake what is in the ring and what waits for credit, and taps exactly those items', async () => {
    const { out, input, close } = channel(2);
    try {
      const sent = Array.from({ length: 5 }, (_, i) => batch(i * 10, 10));
      for (const b of sent) out.sendBatch(b);
      assert.equal(out.available, false);
      out.sendPriorityBarrier(barrier(7));
      out.sendBatch(batch(100, 1));
      while (!input.hasPriority) await new Promise<void>((resolve) => (input.onItem = resolve));
      const first = input.poll();
      assert.deepStrictEqual(first, { kind: 'priority-barrier', barrier: barrier(7), ahead: 5 });
      const tapped: ChannelItem[] = [];
      await new Promise<void>((resolve) => input.tap(7, (item) => tapped.push(item), resolve));
      assert.deepStrictEqual(
        tapped.map((i) => (i.kind === 'records' ? i.batch : i)),
        sent,
      );
      const rest = await take(input, 6);
      assert.deepStrictEqual(
        rest.map((i) => (i.kind === 'records' ? i.batch : i)),
        [...sent, batch(100, 1)],
      );
    } finally {
      close();
    }
  });

  it('peekRecords shows the batch queued next without taking it (decoded in order), and nothing when a barrier or a priority barrier is next', async () => {
    const { out, input, close } = channel(4);
    try {
      const a = batch(0, 10);
      const b = batch(10, 10);
      out.sendBatch(a);
      out.sendEvent(barrier(3));
      out.sendBatch(b);
      while (input.peekRecords() === undefined) await new Promise<void>((resolve) => (input.onItem = resolve));
      const peeked = input.peekRecords();
      assert.deepStrictEqual(peeked, a);
      assert.equal(input.peekRecords(), peeked, 'a second look sees the same batch');
      const first = input.poll();
      assert.ok(first?.kind === 'records' && first.batch === peeked, 'poll returns the batch that was peeked');
      input.release();
      assert.equal(input.peekRecords(), undefined, 'the barrier is next');
      assert.deepStrictEqual(await take(input, 1), [barrier(3)]);
      while (input.peekRecords() === undefined) await new Promise<void>((resolve) => (input.onItem = resolve));
      assert.deepStrictEqual(input.peekRecords(), b);
      // A priority barrier comes before the queued batch: nothing to read ahead.
      out.sendPriorityBarrier(barrier(4));
      while (!input.hasPriority) await new Promise<void>((resolve) => (input.onItem = resolve));
      assert.equal(input.peekRecords(), undefined);
      assert.equal(input.poll()?.kind, 'priority-barrier');
      const rest = await take(input, 1);
      assert.deepStrictEqual(rest.map((i) => (i.kind === 'records' ? i.batch : i)), [b]);
    } finally {
      close();
    }
  });

  it('wakes an idle consumer for an entry that comes later, and a queued in-band barrier can still be prioritized', async () => {
    const { out, input, close } = channel(4);
    try {
      assert.equal(input.hasItem, false);
      setTimeout(() => {
        out.sendBatch(batch(1, 2));
        out.sendEvent(barrier(3));
      }, 20);
      await new Promise<void>((resolve) => (input.onItem = resolve));
      // The barrier's entry is followed by a wake-up; once it is taken in, it can be taken out of order.
      while (!input.prioritize(3)) await new Promise<void>((resolve) => setTimeout(resolve, 5));
      assert.deepStrictEqual(input.poll(), { kind: 'priority-barrier', barrier: barrier(3), ahead: 1 });
      const got = await take(input, 1);
      assert.deepStrictEqual(got[0], { kind: 'records', batch: batch(1, 2) });
      assert.equal(input.poll(), undefined);
    } finally {
      close();
    }
  });
});
