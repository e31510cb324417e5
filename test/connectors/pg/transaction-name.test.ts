/** The names of the two-phase commit sink's prepared transactions, and which a starting writer rolls back. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTransactionName, mustRollBack, parseTransactionName, type TransactionName } from 'weir/connectors/pg';

const name = (subtask: number, after: number, n = 0): TransactionName => ({ sinkId: 'orders', subtask, after, n });

describe('prepared transaction names', () => {
  it('round-trip, and names of other sinks or other shapes are not this sink', () => {
    const t = name(3, 41, 7);
    const gid = formatTransactionName(t);
    assert.equal(gid, 'weir:orders:3:41:7');
    assert.deepEqual(parseTransactionName(gid, 'orders'), t);
    assert.equal(parseTransactionName(gid, 'order'), undefined);
    assert.equal(parseTransactionName('weir:orders-2:3:41:7', 'orders'), undefined);
    assert.equal(parseTransactionName('weir:orders:3:41', 'orders'), undefined);
    assert.equal(parseTransactionName('weir:orders:x:41:7', 'orders'), undefined);
  });

  it('restoring checkpoint c, a writer rolls back what was prepared after barrier c (after >= c) and keeps what its barriers up to c prepared', () => {
    const start = { subtask: 0, parallelism: 1, restoredCheckpointId: 10 };
    assert.equal(mustRollBack(name(0, 9), start), false, 'prepared at barrier 10 (after 9): a committable of checkpoint 10');
    assert.equal(mustRollBack(name(0, 3), start), false, 'prepared long before, still waiting for its commit');
    assert.equal(mustRollBack(name(0, 10), start), true, 'prepared at a barrier after 10');
    assert.equal(mustRollBack(name(0, 12), start), true, 'prepared later still');
  });

  it('each name has one responsible writer: its subtask modulo the parallelism, also for subtasks beyond a smaller parallelism', () => {
    for (const parallelism of [1, 2, 3, 5]) {
      for (let subtask = 0; subtask < 8; subtask++) {
        const owners = Array.from({ length: parallelism }, (_, s) => s).filter((s) => mustRollBack(name(subtask, 20), { subtask: s, parallelism, restoredCheckpointId: 20 }));
        assert.deepEqual(owners, [subtask % parallelism], `subtask ${subtask} at p=${parallelism}`);
      }
    }
  });

  it('a fresh start rolls back everything of the sink it is responsible for', () => {
    assert.equal(mustRollBack(name(1, 0), { subtask: 1, parallelism: 2, restoredCheckpointId: undefined }), true);
    assert.equal(mustRollBack(name(1, 99), { subtask: 1, parallelism: 2, restoredCheckpointId: undefined }), true);
    assert.equal(mustRollBack(name(1, 99), { subtask: 0, parallelism: 2, restoredCheckpointId: undefined }), false);
  });
});
