import { test } from 'node:test';
import type { CheckpointId } from '../../src/core/ids.ts';
import assert from 'node:assert/strict';
import { CheckpointFailureManager } from '../../src/checkpoint/checkpoint-failure-manager.ts';
import { CheckpointException, type CheckpointFailureReason } from '../../src/checkpoint/checkpoint-types.ts';

function setup(tolerable: number): { fm: CheckpointFailureManager; failures: Error[] } {
  const failures: Error[] = [];
  const fm = new CheckpointFailureManager(tolerable, (e) => failures.push(e));
  return { fm, failures };
}

const fail = (reason: CheckpointFailureReason): CheckpointException => new CheckpointException(reason, 'detail');

test('tolerable 0: the first counted failure fails the job with the reason and the cause', () => {
  const { fm, failures } = setup(0);
  const ex = fail('CHECKPOINT_EXPIRED');
  assert.equal(fm.handleCheckpointFailure(ex, (1 as CheckpointId)), 'JOB_FAILED');
  assert.equal(failures.length, 1);
  assert.equal(
    failures[0]!.message,
    'Exceeded checkpoint tolerable failure threshold. The latest checkpoint failed due to Checkpoint expired before completing.',
  );
  assert.equal(failures[0]!.cause, ex);
  assert.equal(fm.continuousFailures, 0, 'the count restarts after failing the job');
});

test('tolerable 2: the third consecutive failure fails the job; the count then starts over', () => {
  const { fm, failures } = setup(2);
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_DECLINED'), (1 as CheckpointId)), 'COUNTED');
  assert.equal(fm.handleCheckpointFailure(fail('IO_EXCEPTION'), (2 as CheckpointId)), 'COUNTED');
  assert.equal(fm.continuousFailures, 2);
  assert.equal(failures.length, 0);
  assert.equal(fm.handleCheckpointFailure(fail('FINALIZE_CHECKPOINT_FAILURE'), (3 as CheckpointId)), 'JOB_FAILED');
  assert.match(failures[0]!.message, /failed due to Failure to finalize checkpoint\.$/);
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (4 as CheckpointId)), 'COUNTED');
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (5 as CheckpointId)), 'COUNTED');
  assert.equal(failures.length, 1);
});

test('a completion resets the count', () => {
  const { fm, failures } = setup(2);
  fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (1 as CheckpointId));
  fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (2 as CheckpointId));
  fm.handleCheckpointSuccess((3 as CheckpointId));
  assert.equal(fm.continuousFailures, 0);
  fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (4 as CheckpointId));
  fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (5 as CheckpointId));
  assert.equal(failures.length, 0);
  fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (6 as CheckpointId));
  assert.equal(failures.length, 1);
});

test('reasons outside COUNTED_FAILURES are ignored', () => {
  const { fm, failures } = setup(0);
  for (const reason of [
    'CHECKPOINT_SUBSUMED',
    'TASK_FAILURE',
    'JOB_FAILOVER_REGION',
    'CHECKPOINT_COORDINATOR_SHUTDOWN',
    'TOO_MANY_CHECKPOINT_REQUESTS',
    'NOT_ALL_REQUIRED_TASKS_RUNNING',
  ] as const) {
    assert.equal(fm.handleCheckpointFailure(fail(reason), (1 as CheckpointId)), 'IGNORED', reason);
  }
  assert.equal(failures.length, 0);
  assert.equal(fm.continuousFailures, 0);
});

test('one checkpoint counts once; failures older than the latest completion and savepoints are ignored', () => {
  const { fm, failures } = setup(1);
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_DECLINED'), (7 as CheckpointId)), 'COUNTED');
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (7 as CheckpointId)), 'IGNORED');
  assert.equal(fm.continuousFailures, 1);
  fm.handleCheckpointSuccess((9 as CheckpointId));
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (8 as CheckpointId)), 'IGNORED', 'older than the latest completion');
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (9 as CheckpointId)), 'IGNORED');
  fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (10 as CheckpointId));
  fm.handleCheckpointSuccess((8 as CheckpointId)); // an older completion arriving late does not reset
  assert.equal(fm.continuousFailures, 1);
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (11 as CheckpointId), true), 'IGNORED', 'savepoint');
  assert.equal(failures.length, 0);
  assert.equal(fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (12 as CheckpointId)), 'JOB_FAILED');
});

test('failures without an id count every time; Infinity never fails the job', () => {
  const { fm, failures } = setup(1);
  fm.handleCheckpointFailure(fail('IO_EXCEPTION'), undefined);
  fm.handleCheckpointFailure(fail('IO_EXCEPTION'), undefined);
  assert.equal(failures.length, 1);

  const unlimited = setup(Number.POSITIVE_INFINITY);
  for (let i = 1; i <= 100; i++) unlimited.fm.handleCheckpointFailure(fail('CHECKPOINT_EXPIRED'), (i as CheckpointId));
  assert.equal(unlimited.failures.length, 0);
});

test('rejects an invalid tolerable number', () => {
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(() => new CheckpointFailureManager(bad, () => {}), RangeError);
  }
});
