import { test } from 'node:test';
import type { CheckpointId } from '../../src/core/ids.ts';
import assert from 'node:assert/strict';
import type { CheckpointMetadata } from '../../src/checkpoint/checkpoint-types.ts';
import { CompletedCheckpointStore } from '../../src/checkpoint/completed-checkpoint-store.ts';
import type { CompletedCheckpoint } from '../../src/checkpoint/completed-checkpoint-store.ts';

function completed(checkpointId: number, kind: CheckpointMetadata['kind'] = 'checkpoint'): CompletedCheckpoint {
  return {
    checkpointId: checkpointId as CheckpointId,
    timestamp: 1000 + checkpointId,
    dir: `/checkpoints/job/chk-${checkpointId}`,
    metadata: { version: 1, jobId: 'job', checkpointId: checkpointId as CheckpointId, timestamp: 1000 + checkpointId, kind, operators: [] },
    stateSize: 10 * checkpointId,
  };
}

function recordingStore(numRetained: number): { store: CompletedCheckpointStore; discarded: number[] } {
  const discarded: number[] = [];
  const store = new CompletedCheckpointStore({
    numRetained,
    discard: async (id) => {
      discarded.push(id);
    },
  });
  return { store, discarded };
}

const ids = (store: CompletedCheckpointStore): number[] => store.all().map((c) => c.checkpointId);

test('store: retaining 1 discards each checkpoint once the next completes', async () => {
  const { store, discarded } = recordingStore(1);
  assert.equal(store.latest(), undefined);
  await store.add(completed(1));
  assert.deepEqual(discarded, []);
  await store.add(completed(2));
  await store.add(completed(3));
  assert.deepEqual(discarded, [1, 2]);
  assert.equal(store.latest()?.checkpointId, 3);
  assert.deepEqual(ids(store), [3]);
});

test('store: retaining 3 keeps the newest three, oldest first, and discards exactly the subsumed ones in order', async () => {
  const { store, discarded } = recordingStore(3);
  for (let id = 1; id <= 3; id++) await store.add(completed(id));
  assert.deepEqual(discarded, []);
  assert.deepEqual(ids(store), [1, 2, 3]);
  await store.add(completed(4));
  await store.add(completed(7));
  assert.deepEqual(discarded, [1, 2]);
  assert.deepEqual(ids(store), [3, 4, 7]);
  assert.equal(store.latest()?.checkpointId, 7);
  // all() is a copy.
  (store.all() as CompletedCheckpoint[]).pop();
  assert.deepEqual(ids(store), [3, 4, 7]);
});

test('store: overlapping adds with slow discards still discard one at a time, oldest first', async () => {
  const discarded: number[] = [];
  let running = 0;
  const store = new CompletedCheckpointStore({
    numRetained: 1,
    discard: async (id) => {
      running++;
      assert.equal(running, 1, 'discards never overlap');
      await new Promise((r) => setTimeout(r, 10 - id));
      discarded.push(id);
      running--;
    },
  });
  await Promise.all([1, 2, 3, 4, 5].map((id) => store.add(completed(id))));
  assert.deepEqual(discarded, [1, 2, 3, 4]);
  assert.deepEqual(ids(store), [5]);
});

test('store: shutdown RETAIN keeps every checkpoint, DISCARD discards them oldest first', async () => {
  const retained = recordingStore(3);
  for (let id = 1; id <= 4; id++) await retained.store.add(completed(id));
  await retained.store.shutdown('RETAIN');
  assert.deepEqual(retained.discarded, [1]);
  assert.deepEqual(ids(retained.store), [2, 3, 4]);
  await assert.rejects(retained.store.add(completed(5)), /shut down/);
  await retained.store.shutdown('DISCARD');
  assert.deepEqual(retained.discarded, [1], 'the first shutdown decides');

  const discarding = recordingStore(3);
  for (let id = 1; id <= 4; id++) await discarding.store.add(completed(id));
  await discarding.store.shutdown('DISCARD');
  assert.deepEqual(discarding.discarded, [1, 2, 3, 4]);
  assert.deepEqual(ids(discarding.store), []);
  assert.equal(discarding.store.latest(), undefined);
});

test('store: discard failures are reported, never thrown', async () => {
  const reported: [number, string][] = [];
  const discarded: number[] = [];
  const store = new CompletedCheckpointStore({
    numRetained: 1,
    discard: (id) => {
      if (id === 2) throw new Error(`sync failure ${id}`);
      if (id === 1) return Promise.reject(new Error(`async failure ${id}`));
      discarded.push(id);
      return Promise.resolve();
    },
    onDiscardError: (id, e) => {
      reported.push([id, (e as Error).message]);
      if (id === 2) throw new Error('a failing reporter is contained too');
    },
  });
  await store.add(completed(1));
  await store.add(completed(2));
  await store.add(completed(3));
  await store.add(completed(4));
  assert.deepEqual(reported, [
    [1, 'async failure 1'],
    [2, 'sync failure 2'],
  ]);
  assert.deepEqual(discarded, [3]);
  assert.deepEqual(ids(store), [4]);
  await store.shutdown('DISCARD');
  assert.deepEqual(discarded, [3, 4]);
});

test('store: savepoints count towards retention but are never discarded', async () => {
  const { store, discarded } = recordingStore(1);
  await store.add(completed(1));
  await store.add(completed(2, 'savepoint'));
  await store.add(completed(3));
  assert.deepEqual(discarded, [1]);
  await store.add(completed(4, 'savepoint'));
  assert.deepEqual(discarded, [1, 3]);
  await store.shutdown('DISCARD');
  assert.deepEqual(discarded, [1, 3]);
});

test('store: ids must increase and numRetained must be a positive integer', async () => {
  const { store } = recordingStore(2);
  await store.add(completed(5));
  await assert.rejects(store.add(completed(5)), /not newer than the latest completed checkpoint 5/);
  await assert.rejects(store.add(completed(3)), /not newer/);
  assert.deepEqual(ids(store), [5]);
  for (const numRetained of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new CompletedCheckpointStore({ numRetained, discard: async () => {} }), /state\.checkpoints\.num-retained/);
  }
});
