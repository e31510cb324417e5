import assert from 'node:assert/strict';
import type { CheckpointId } from '../../src/core/ids.ts';
import { MessageChannel } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { checkpointOptionsFor } from '../../src/checkpoint/checkpoint-options.ts';
import { LocalChannel } from '../../src/runtime/channel/local-channel.ts';
import { RemoteInput, RemoteOutput } from '../../src/runtime/channel/remote-channel.ts';
import type { CheckpointBarrier } from '../../src/runtime/events.ts';

const stop: CheckpointBarrier = {
  kind: 'checkpoint-barrier',
  checkpointId: 12 as CheckpointId,
  timestamp: 34,
  options: checkpointOptionsFor({ isSavepoint: true, savepointDir: '/sp/x', stop: { drain: true } }, 'at-least-once'),
};

describe('checkpoint options on barriers', () => {
  it('are what the trigger asked for, with the job alignment for checkpoints and aligned savepoints', () => {
    assert.deepEqual(stop.options, { type: 'savepoint', snapshotType: 'full', alignment: 'aligned', targetLocation: '/sp/x', stop: { drain: true } });
    assert.deepEqual(checkpointOptionsFor({ isSavepoint: false }, 'at-least-once'), { type: 'checkpoint', snapshotType: 'incremental', alignment: 'at-least-once' });
    assert.deepEqual(checkpointOptionsFor({ isSavepoint: false, full: true }, 'aligned'), { type: 'full-checkpoint', snapshotType: 'full', alignment: 'aligned' });
  });

  it('cross a channel between threads intact, in order with the batches before them', async () => {
    const { port1, port2 } = new MessageChannel();
    const out = new RemoteOutput(port1, 2, 'a -> b');
    const input = new RemoteInput(port2);
    try {
      out.sendBatch({ values: [1, 2], timestamps: null, count: 2 });
      out.sendEvent(stop);
      const items = [];
      while (items.length < 2) {
        await new Promise<void>((r) => (input.onItem = r));
        for (let item = input.poll(); item !== undefined; item = input.poll()) items.push(item);
      }
      assert.equal(items[0]!.kind, 'records');
      assert.deepEqual(items[1], stop);
    } finally {
      out.close();
      input.close();
    }
  });

  it('are handed over as is on a local channel', () => {
    const ch = new LocalChannel(2);
    ch.output.sendEvent(stop);
    assert.equal(ch.input.poll(), stop);
  });
});
