import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CreditedOutput, type Prepared } from '../../src/runtime/channel/channel.ts';
import type { CheckpointBarrier, RecordBatch } from '../../src/runtime/events.ts';

/**
 * A transport whose consumer returns credit through shared memory, collected when the output
 * asks (as the ring between threads does): `returned` is what the consumer has given back.
 */
class CollectingOutput extends CreditedOutput<number[]> {
  readonly sent: number[][] = [];
  returned = 0;
  #collected = 0;
  /** Credit the consumer returns exactly while the output raises its flag (the race being tested). */
  returnWhileWanted = 0;
  protected prepare(batch: RecordBatch): number[] {
    return batch.values.slice(0, batch.count) as number[];
  }
  protected transmit(item: Prepared<number[]>): void {
    if (item.kind === 'records') this.sent.push(item.payload);
  }
  protected transmitPriority(_b: CheckpointBarrier, _o: number): void {}
  batchCapacity(maxRecords: number): number {
    return maxRecords;
  }
  protected override collectCredits(): number {
    const n = this.returned - this.#collected;
    this.#collected = this.returned;
    return n;
  }
  protected override creditsWanted(): number {
    this.returned += this.returnWhileWanted;
    this.returnWhileWanted = 0;
    return this.collectCredits();
  }
  credit(n: number): void {
    this.returned += n;
    this.addCredits(this.collectCredits());
  }
  close(): void {}
}

const batch = (v: number): RecordBatch => ({ values: [v], timestamps: null, count: 1 });

test('credit returned while the output asks for it sends the batch without announcing an availability nobody was told it lost', () => {
  const out = new CollectingOutput(1);
  let availableCalls = 0;
  out.onAvailable = () => availableCalls++;
  out.sendBatch(batch(1));
  out.returnWhileWanted = 1;
  out.sendBatch(batch(2));
  // The writer looks at `available` after sendBatch: it never counted this channel as blocked.
  assert.equal(out.available, true);
  assert.equal(availableCalls, 0);
  assert.deepEqual(out.sent, [[1], [2]]);
});

test('a batch left waiting for credit is sent, and availability announced once, when credit comes back', () => {
  const out = new CollectingOutput(1);
  let availableCalls = 0;
  out.onAvailable = () => availableCalls++;
  out.sendBatch(batch(1));
  out.sendBatch(batch(2));
  out.sendBatch(batch(3));
  assert.equal(out.available, false);
  assert.deepEqual(out.sent, [[1]]);
  out.credit(1);
  assert.equal(out.available, false);
  assert.equal(availableCalls, 0);
  out.credit(1);
  assert.equal(out.available, true);
  assert.equal(availableCalls, 1);
  assert.deepEqual(out.sent, [[1], [2], [3]]);
});
