import { test } from 'node:test';
import type { CheckpointId } from '../../src/core/ids.ts';
import assert from 'node:assert/strict';
import {
  CheckpointCoordinator,
  type CheckpointCoordinatorOptions,
  type CheckpointFinalizer,
  type CheckpointGateway,
  type CompletedCheckpointInfo,
} from '../../src/checkpoint/checkpoint-coordinator.ts';
import {
  CheckpointException,
  type CheckpointMetadata,
  type SubtaskAcknowledgement,
  type SubtaskKey,
} from '../../src/checkpoint/checkpoint-types.ts';
import { ManualScheduler } from '../../src/core/time.ts';

const START = 10_000;

/** Vertex 0 (source chained with a map) runs with parallelism 2, vertex 1 (the sink) with 1. */
const TASKS: SubtaskKey[] = [
  { vertex: 0, subtask: 0 },
  { vertex: 0, subtask: 1 },
  { vertex: 1, subtask: 0 },
];
const OPERATORS: CheckpointCoordinatorOptions['operators'] = [
  { vertex: 0, operatorId: 'op-src', uid: 'source', name: 'Source', parallelism: 2, maxParallelism: 128 },
  { vertex: 0, operatorId: 'op-map', uid: undefined, name: 'Map', parallelism: 2, maxParallelism: 128 },
  { vertex: 1, operatorId: 'op-sink', uid: 'sink', name: 'Sink', parallelism: 1, maxParallelism: 128 },
];

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued promise callback run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Harness {
  coordinator: CheckpointCoordinator;
  scheduler: ManualScheduler;
  /** Every call the coordinator made on its collaborators, in order, e.g. `trigger 1 @10100`. */
  events: string[];
  triggered: { id: number; timestamp: number; isSavepoint: boolean }[];
  finalized: CheckpointMetadata[];
  completed: CompletedCheckpointInfo[];
  jobFailures: Error[];
  /** What `gateway.triggerCheckpoint` does; default: nothing. */
  onTrigger: (id: number) => void | Promise<void>;
  /** What `finalizer.finalize` does; default: resolve at once with `/cp/chk-<id>`. */
  onFinalize: (m: CheckpointMetadata) => Promise<{ dir: string }>;
  onCompletedImpl: (c: CompletedCheckpointInfo) => void | Promise<void>;
  ack(id: number, task: SubtaskKey, stateSize?: number): ReturnType<CheckpointCoordinator['acknowledge']>;
  ackAll(id: number, stateSize?: number): void;
  /** Acknowledges from every task and lets finalisation finish. */
  completeCheckpoint(id: number, stateSize?: number): Promise<void>;
}

function ackFor(id: number, task: SubtaskKey, stateSize = 100): SubtaskAcknowledgement {
  // The map operator is stateless: only the first operator of each vertex reports state.
  const op = OPERATORS.find((o) => o.vertex === task.vertex);
  return {
    subtask: task,
    checkpointId: id as CheckpointId,
    states: op
      ? [
          {
            operatorId: op.operatorId,
            files: [{ path: `chk-${id}/${op.operatorId}-${task.subtask}.state`, size: stateSize, checksum: 'ab' }],
            inline: { subtask: task.subtask },
          },
        ]
      : [],
    metrics: {
      syncDurationMs: 1,
      asyncDurationMs: 2,
      alignmentDurationMs: 3,
      startDelayMs: 4,
      bytesProcessedDuringAlignment: 5,
      stateSize,
      persistedDataBytes: 0,
      unaligned: false,
      busyTimeMsPerSecond: 6,
      backPressuredTimeMsPerSecond: 7,
    },
  };
}

function setup(overrides: Partial<CheckpointCoordinatorOptions> = {}): Harness {
  const scheduler = new ManualScheduler(START);
  const h = {
    scheduler,
    events: [] as string[],
    triggered: [] as Harness['triggered'],
    finalized: [] as CheckpointMetadata[],
    completed: [] as CompletedCheckpointInfo[],
    jobFailures: [] as Error[],
    onTrigger: (_id: number): void | Promise<void> => {},
    onFinalize: (m: CheckpointMetadata): Promise<{ dir: string }> => Promise.resolve({ dir: `/cp/chk-${m.checkpointId}` }),
    onCompletedImpl: (_c: CompletedCheckpointInfo): void | Promise<void> => {},
  } as Harness;
  const gateway: CheckpointGateway = {
    triggerCheckpoint(id, timestamp, options) {
      h.events.push(`trigger ${id} @${timestamp}`);
      h.triggered.push({ id, timestamp, isSavepoint: options.isSavepoint });
      return h.onTrigger(id);
    },
    notifyCheckpointComplete(id) {
      h.events.push(`complete ${id}`);
    },
    notifyCheckpointAborted(id) {
      h.events.push(`aborted ${id}`);
    },
    failJob(error) {
      h.events.push('failJob');
      h.jobFailures.push(error);
    },
  };
  const finalizer: CheckpointFinalizer = {
    finalize(m) {
      h.events.push(`finalize ${m.checkpointId}`);
      h.finalized.push(m);
      return h.onFinalize(m);
    },
    async discard(id) {
      h.events.push(`discard ${id}`);
    },
  };
  h.coordinator = new CheckpointCoordinator({
    jobId: 'job-1',
    scheduler,
    gateway,
    finalizer,
    tasks: TASKS,
    operators: OPERATORS,
    intervalMs: 100,
    timeoutMs: 10_000,
    minPauseMs: 0,
    maxConcurrent: 1,
    tolerableFailures: 5,
    onCompleted(c) {
      h.events.push(`onCompleted ${c.checkpointId}`);
      h.completed.push(c);
      return h.onCompletedImpl(c);
    },
    ...overrides,
  });
  h.ack = (id, task, stateSize) => h.coordinator.acknowledge(ackFor(id, task, stateSize));
  h.ackAll = (id, stateSize) => {
    for (const t of TASKS) h.ack(id, t, stateSize);
  };
  h.completeCheckpoint = async (id, stateSize) => {
    h.ackAll(id, stateSize);
    await settle();
  };
  return h;
}

async function rejectsWith(p: Promise<unknown>, reason: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CheckpointException, `expected a CheckpointException, got ${String(e)}`);
    assert.equal(e.reason, reason);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const ids = (h: Harness): number[] => h.triggered.map((t) => t.id);

// ---------------------------------------------------------------------------- periodic triggering

test('periodic triggers come every interval, the first one interval after start', async () => {
  const h = setup();
  h.coordinator.startPeriodic();
  h.coordinator.startPeriodic(); // idempotent
  h.scheduler.advance(99);
  assert.equal(h.triggered.length, 0);
  h.scheduler.advance(1);
  assert.deepEqual(h.triggered, [{ id: 1, timestamp: START + 100, isSavepoint: false }]);
  await h.completeCheckpoint(1);
  h.scheduler.advance(100);
  await h.completeCheckpoint(2);
  h.scheduler.advance(100);
  assert.deepEqual(h.triggered.map((t) => [t.id, t.timestamp]), [
    [1, START + 100],
    [2, START + 200],
    [3, START + 300],
  ]);
  h.coordinator.stopPeriodic();
  h.scheduler.advance(1_000);
  assert.deepEqual(ids(h), [1, 2, 3]);
});

test('a periodic trigger is skipped while maxConcurrent checkpoints are pending and runs once one ends', async () => {
  const h = setup({ maxConcurrent: 2 });
  h.coordinator.startPeriodic();
  h.scheduler.advance(100);
  h.scheduler.advance(100);
  assert.deepEqual(ids(h), [1, 2]);
  assert.equal(h.coordinator.numPending(), 2);
  h.scheduler.advance(100); // third: skipped
  h.scheduler.advance(200);
  assert.deepEqual(ids(h), [1, 2]);
  assert.equal(h.coordinator.numPending(), 2);

  await h.completeCheckpoint(1); // at START+500
  assert.equal(h.coordinator.numPending(), 1);
  h.scheduler.advance(0);
  assert.deepEqual(h.triggered.map((t) => [t.id, t.timestamp]), [
    [1, START + 100],
    [2, START + 200],
    [3, START + 500],
  ]);
  h.scheduler.advance(100); // 2 and 3 pending again
  assert.deepEqual(ids(h), [1, 2, 3]);
  await h.completeCheckpoint(3); // subsumes 2
  assert.equal(h.coordinator.numPending(), 0);
  h.scheduler.advance(0);
  assert.deepEqual(ids(h), [1, 2, 3, 4]);
});

test('min pause: the next periodic trigger waits minPauseMs after a completion or a failure, one at a time', async () => {
  const h = setup({ minPauseMs: 250, maxConcurrent: 5 });
  h.coordinator.startPeriodic();
  h.scheduler.advance(100); // 1 @ +100
  h.scheduler.advance(50);
  await h.completeCheckpoint(1); // ends @ +150
  h.scheduler.advance(249); // tick @ +200 is held back until +400
  assert.deepEqual(ids(h), [1]);
  h.scheduler.advance(1);
  assert.deepEqual(h.triggered.map((t) => [t.id, t.timestamp]), [
    [1, START + 100],
    [2, START + 400],
  ]);
  // minPause > 0 forces max concurrency 1 although maxConcurrent is 5.
  h.scheduler.advance(100); // tick @ +500 skipped: 2 is pending
  assert.deepEqual(ids(h), [1, 2]);
  h.scheduler.advance(20);
  assert.equal(h.coordinator.decline((2 as CheckpointId), TASKS[0]!, new Error('disk full')), 'ABORTED'); // ends @ +520
  h.scheduler.advance(249);
  assert.deepEqual(ids(h), [1, 2]);
  h.scheduler.advance(1);
  assert.deepEqual(h.triggered.at(-1), { id: 3, timestamp: START + 770, isSavepoint: false });
});

test('manual triggers ignore the interval, the concurrency limit and the min pause', async () => {
  const h = setup({ minPauseMs: 1_000, maxConcurrent: 1 });
  const first = h.coordinator.triggerCheckpoint();
  const second = h.coordinator.triggerCheckpoint();
  assert.equal(h.coordinator.numPending(), 2);
  assert.deepEqual(ids(h), [1, 2]);
  h.ackAll(1);
  h.ackAll(2);
  assert.deepEqual(await first, { checkpointId: 1, dir: '/cp/chk-1' });
  assert.deepEqual(await second, { checkpointId: 2, dir: '/cp/chk-2' });
  const third = h.coordinator.triggerCheckpoint(); // right after a completion, despite the pause
  assert.deepEqual(ids(h), [1, 2, 3]);
  h.ackAll(3);
  assert.equal((await third).checkpointId, 3);
});

// ---------------------------------------------------------------------------- completion

test('completion assembles the metadata, finalizes, then onCompleted, then notifies the job', async () => {
  const h = setup();
  h.scheduler.advance(5);
  const done = h.coordinator.triggerCheckpoint();
  assert.equal(h.ack(1, TASKS[0]!, 10), 'SUCCESS');
  assert.equal(h.ack(1, TASKS[1]!, 20), 'SUCCESS');
  assert.equal(h.finalized.length, 0, 'not complete before the last acknowledgement');
  assert.equal(h.ack(1, TASKS[2]!, 30), 'SUCCESS');
  assert.deepEqual(await done, { checkpointId: 1, dir: '/cp/chk-1' });

  assert.deepEqual(h.events, ['trigger 1 @10005', 'finalize 1', 'onCompleted 1', 'complete 1']);
  const m = h.finalized[0]!;
  assert.equal(m.version, 1);
  assert.equal(m.jobId, 'job-1');
  assert.equal(m.checkpointId, 1);
  assert.equal(m.timestamp, START + 5);
  assert.equal(m.kind, 'checkpoint');
  assert.deepEqual(
    m.operators.map((o) => [o.operatorId, o.uid, o.name, o.parallelism, o.maxParallelism, o.subtasks.length]),
    [
      ['op-src', 'source', 'Source', 2, 128, 2],
      ['op-map', undefined, 'Map', 2, 128, 2],
      ['op-sink', 'sink', 'Sink', 1, 128, 1],
    ],
  );
  assert.deepEqual(m.operators[0]!.subtasks[0], ackFor(1, TASKS[0]!, 10).states[0]);
  assert.deepEqual(m.operators[0]!.subtasks[1], ackFor(1, TASKS[1]!, 20).states[0]);
  assert.deepEqual(m.operators[1]!.subtasks, [undefined, undefined], 'a stateless operator keeps empty slots');
  assert.deepEqual(m.operators[2]!.subtasks[0], ackFor(1, TASKS[2]!, 30).states[0]);

  assert.equal(h.completed.length, 1);
  assert.deepEqual(
    { ...h.completed[0]!, metadata: undefined },
    { checkpointId: 1, timestamp: START + 5, dir: '/cp/chk-1', metadata: undefined, stateSize: 60 },
  );
  assert.equal(h.completed[0]!.metadata, m);
  assert.equal(h.coordinator.latestCompletedId(), 1);
  assert.equal(h.coordinator.numPending(), 0);
});

test('acks that arrive inside the trigger call complete the checkpoint', async () => {
  const h = setup();
  h.onTrigger = (id) => h.ackAll(id);
  assert.deepEqual(await h.coordinator.triggerCheckpoint(), { checkpointId: 1, dir: '/cp/chk-1' });
});

test('a job with no tasks completes a checkpoint as soon as it is triggered', async () => {
  const h = setup({ tasks: [], operators: [] });
  assert.deepEqual(await h.coordinator.triggerCheckpoint(), { checkpointId: 1, dir: '/cp/chk-1' });
  assert.deepEqual(h.finalized[0]!.operators, []);
});

// ---------------------------------------------------------------------------- acknowledgements

test('acknowledge: duplicates change nothing; unknown ids and tasks are UNKNOWN; aborted ones DISCARDED', async () => {
  const h = setup({ startAfterId: 7 });
  void h.coordinator.triggerCheckpoint().catch(() => {});
  assert.equal(h.ack(8, TASKS[0]!, 10), 'SUCCESS');
  assert.equal(h.ack(8, TASKS[0]!, 999), 'DUPLICATE');
  let entry = h.coordinator.stats.snapshot().history[0]!;
  assert.equal(entry.num_acknowledged_subtasks, 1);
  assert.equal(entry.state_size, 10);

  assert.equal(h.ack(7, TASKS[0]!), 'UNKNOWN', 'before the first id');
  assert.equal(h.ack(9, TASKS[0]!), 'UNKNOWN', 'never triggered');
  assert.equal(h.coordinator.acknowledge(ackFor(8, { vertex: 5, subtask: 0 })), 'UNKNOWN', 'task not in the job');
  assert.equal(h.coordinator.acknowledge(ackFor(8, { vertex: 0, subtask: 2 })), 'UNKNOWN', 'subtask not in the job');

  h.ack(8, TASKS[1]!, 20);
  h.ack(8, TASKS[2]!, 30);
  assert.equal(h.ack(8, TASKS[2]!, 30), 'DUPLICATE', 'while finalising');
  await settle();
  assert.equal(h.ack(8, TASKS[1]!), 'DUPLICATE', 'after completion');
  // The first acknowledgement's state is what was checkpointed.
  assert.equal(h.completed[0]!.stateSize, 60);
  assert.equal(h.finalized[0]!.operators[0]!.subtasks[0]!.files[0]!.size, 10);
  entry = h.coordinator.stats.snapshot().history[0]!;
  assert.equal(entry.num_acknowledged_subtasks, 3);
  assert.equal(entry.state_size, 60);

  const second = h.coordinator.triggerCheckpoint();
  h.coordinator.decline((9 as CheckpointId), TASKS[2]!, new Error('boom'));
  await rejectsWith(second, 'CHECKPOINT_DECLINED');
  assert.equal(h.ack(9, TASKS[0]!), 'DISCARDED');
  assert.equal(h.coordinator.numPending(), 0);
});

test('decline fails the checkpoint with the reason and the cause; unknown declines are ignored', async () => {
  const h = setup();
  const first = h.coordinator.triggerCheckpoint();
  const cause = new Error('snapshot of op-src failed');
  assert.equal(h.coordinator.decline((1 as CheckpointId), TASKS[1]!, cause), 'ABORTED');
  await assert.rejects(first, (e: unknown) => {
    assert.ok(e instanceof CheckpointException);
    assert.equal(e.reason, 'CHECKPOINT_DECLINED');
    assert.match(e.message, /^Checkpoint was declined\. Subtask 0\/1 declined checkpoint 1: snapshot of op-src failed$/);
    assert.equal(e.cause, cause);
    return true;
  });
  assert.deepEqual(h.events, ['trigger 1 @10000', 'discard 1', 'aborted 1']);
  assert.equal(h.coordinator.consecutiveFailures(), 1);

  const second = h.coordinator.triggerCheckpoint();
  assert.equal(h.coordinator.decline((2 as CheckpointId), TASKS[0]!, new Error('x'), 'IO_EXCEPTION'), 'ABORTED');
  await rejectsWith(second, 'IO_EXCEPTION', /declined checkpoint 2: x/);
  assert.equal(h.coordinator.decline((2 as CheckpointId), TASKS[0]!, new Error('again')), 'IGNORED');
  assert.equal(h.coordinator.decline((42 as CheckpointId), TASKS[0]!, new Error('never')), 'IGNORED');
  assert.equal(h.coordinator.decline((3 as CheckpointId), { vertex: 9, subtask: 0 }, new Error('stranger')), 'IGNORED');
  assert.equal(h.coordinator.consecutiveFailures(), 2);
});

// ---------------------------------------------------------------------------- failures

test('expiry aborts the checkpoint, notifies the job, discards and counts the failure', async () => {
  const h = setup({ timeoutMs: 500 });
  h.coordinator.startPeriodic();
  h.scheduler.advance(100);
  h.ack(1, TASKS[0]!);
  h.scheduler.advance(499);
  assert.equal(h.coordinator.numPending(), 1);
  h.scheduler.advance(1);
  // The periodic trigger that waited for the slot runs as soon as the expiry frees it.
  assert.deepEqual(h.events, ['trigger 1 @10100', 'discard 1', 'aborted 1', 'trigger 2 @10600']);
  assert.equal(h.coordinator.numPending(), 1);
  assert.equal(h.coordinator.consecutiveFailures(), 1);
  assert.equal(h.ack(1, TASKS[1]!), 'DISCARDED');
  const failed = h.coordinator.stats.snapshot().latest.failed!;
  assert.equal(failed.id, 1);
  assert.equal(failed.status, 'FAILED');
  assert.equal(failed.failure_timestamp, START + 600);
  assert.match(failed.failure_message!, /^Checkpoint expired before completing\. Checkpoint 1 expired after 500 ms with 1 of 3 subtasks acknowledged\.$/);
});

test('a manual trigger rejects with CHECKPOINT_EXPIRED when it expires', async () => {
  const h = setup({ timeoutMs: 1_000 });
  const p = h.coordinator.triggerCheckpoint();
  h.scheduler.advance(1_000);
  await rejectsWith(p, 'CHECKPOINT_EXPIRED');
  assert.deepEqual(h.events, ['trigger 1 @10000', 'discard 1', 'aborted 1']);
});

test('tolerable failures 0: the first counted failure fails the job', async () => {
  const h = setup({ tolerableFailures: 0, timeoutMs: 50 });
  void h.coordinator.triggerCheckpoint().catch(() => {});
  h.scheduler.advance(50);
  assert.equal(h.jobFailures.length, 1);
  assert.equal(
    h.jobFailures[0]!.message,
    'Exceeded checkpoint tolerable failure threshold. The latest checkpoint failed due to Checkpoint expired before completing.',
  );
  assert.ok(h.jobFailures[0]!.cause instanceof CheckpointException);
  assert.equal((h.jobFailures[0]!.cause as CheckpointException).reason, 'CHECKPOINT_EXPIRED');
  assert.deepEqual(h.events, ['trigger 1 @10000', 'discard 1', 'aborted 1', 'failJob']);
});

test('tolerable failures 2: the third consecutive failure fails the job; a completion in between resets', async () => {
  const h = setup({ tolerableFailures: 2 });
  const failOne = async (): Promise<void> => {
    const p = h.coordinator.triggerCheckpoint();
    h.coordinator.decline((h.coordinator.nextCheckpointId() - 1) as CheckpointId, TASKS[0]!, new Error('no'));
    await rejectsWith(p, 'CHECKPOINT_DECLINED');
  };
  await failOne();
  await failOne();
  assert.equal(h.jobFailures.length, 0);
  const ok = h.coordinator.triggerCheckpoint();
  h.ackAll(3);
  await ok;
  assert.equal(h.coordinator.consecutiveFailures(), 0);
  await failOne();
  await failOne();
  assert.equal(h.jobFailures.length, 0);
  await failOne();
  assert.equal(h.jobFailures.length, 1);
  assert.match(h.jobFailures[0]!.message, /The latest checkpoint failed due to Checkpoint was declined\.$/);
  assert.equal(h.coordinator.consecutiveFailures(), 0);
});

test('aborts on failover, subsumption and shutdown do not count against the tolerable failures', async () => {
  const h = setup({ tolerableFailures: 0, maxConcurrent: 3 });
  const a = h.coordinator.triggerCheckpoint();
  const b = h.coordinator.triggerCheckpoint();
  h.coordinator.abortPending('TASK_FAILURE');
  await rejectsWith(a, 'TASK_FAILURE');
  await rejectsWith(b, 'TASK_FAILURE');
  assert.equal(h.coordinator.numPending(), 0);
  assert.deepEqual(h.events.filter((e) => e.startsWith('aborted')), ['aborted 1', 'aborted 2']);
  // Even a counted reason does not count when it comes through abortPending.
  const c = h.coordinator.triggerCheckpoint();
  h.coordinator.abortPending('CHECKPOINT_EXPIRED');
  await rejectsWith(c, 'CHECKPOINT_EXPIRED');

  const old = h.coordinator.triggerCheckpoint();
  const newer = h.coordinator.triggerCheckpoint();
  h.ackAll(5);
  await newer;
  await rejectsWith(old, 'CHECKPOINT_SUBSUMED');
  const d = h.coordinator.triggerCheckpoint();
  h.coordinator.shutdown();
  await rejectsWith(d, 'CHECKPOINT_COORDINATOR_SHUTDOWN');
  assert.equal(h.jobFailures.length, 0);
});

test('a finalizer failure aborts with FINALIZE_CHECKPOINT_FAILURE and discards', async () => {
  const h = setup({ tolerableFailures: 0 });
  h.onFinalize = () => Promise.reject(new Error('ENOSPC: no space left on device'));
  const p = h.coordinator.triggerCheckpoint();
  h.ackAll(1);
  await rejectsWith(p, 'FINALIZE_CHECKPOINT_FAILURE', /Finalizing checkpoint 1 failed: ENOSPC/);
  assert.deepEqual(h.events, ['trigger 1 @10000', 'finalize 1', 'discard 1', 'aborted 1', 'failJob']);
  assert.equal(h.completed.length, 0);
  assert.equal(h.coordinator.latestCompletedId(), undefined);
  assert.equal(h.coordinator.stats.snapshot().counts.failed, 1);
});

test('an onCompleted failure also fails the checkpoint with FINALIZE_CHECKPOINT_FAILURE', async () => {
  const h = setup();
  h.onCompletedImpl = () => Promise.reject(new Error('store unavailable'));
  const p = h.coordinator.triggerCheckpoint();
  h.ackAll(1);
  await rejectsWith(p, 'FINALIZE_CHECKPOINT_FAILURE', /Completing checkpoint 1 failed: store unavailable/);
  assert.deepEqual(h.events, ['trigger 1 @10000', 'finalize 1', 'onCompleted 1', 'discard 1', 'aborted 1']);
  assert.equal(h.coordinator.latestCompletedId(), undefined);
  assert.equal(h.coordinator.consecutiveFailures(), 1);
});

test('a trigger that throws or rejects fails with IO_EXCEPTION; its id is not reused', async () => {
  const h = setup();
  h.onTrigger = () => {
    throw new Error('source not running');
  };
  await rejectsWith(h.coordinator.triggerCheckpoint(), 'IO_EXCEPTION', /Triggering checkpoint 1 failed: source not running/);
  h.onTrigger = () => Promise.reject(new Error('channel closed'));
  await rejectsWith(h.coordinator.triggerCheckpoint(), 'IO_EXCEPTION', /channel closed/);
  assert.equal(h.coordinator.consecutiveFailures(), 2);
  assert.deepEqual(h.events, ['trigger 1 @10000', 'discard 1', 'aborted 1', 'trigger 2 @10000', 'discard 2', 'aborted 2']);
  h.onTrigger = () => {};
  const ok = h.coordinator.triggerCheckpoint();
  h.ackAll(3);
  assert.equal((await ok).checkpointId, 3);
});

test('a periodic trigger that throws counts, and periodic triggering carries on', () => {
  const h = setup({ tolerableFailures: 1 });
  h.onTrigger = () => {
    throw new Error('no');
  };
  h.coordinator.startPeriodic();
  h.scheduler.advance(100);
  assert.equal(h.coordinator.consecutiveFailures(), 1);
  h.scheduler.advance(100);
  assert.deepEqual(ids(h), [1, 2]);
  assert.equal(h.jobFailures.length, 1);
});

test('expiry while the metadata is being written aborts; the late write is discarded again', async () => {
  const h = setup({ timeoutMs: 100 });
  const write = deferred<{ dir: string }>();
  h.onFinalize = () => write.promise;
  const p = h.coordinator.triggerCheckpoint();
  h.ackAll(1);
  assert.equal(h.coordinator.numPending(), 1);
  h.scheduler.advance(100);
  await rejectsWith(p, 'CHECKPOINT_EXPIRED');
  write.resolve({ dir: '/cp/chk-1' });
  await settle();
  assert.deepEqual(h.events, ['trigger 1 @10000', 'finalize 1', 'discard 1', 'aborted 1', 'discard 1']);
  assert.equal(h.completed.length, 0);
});

test('a write that fails after the checkpoint expired is discarded again and counted once', async () => {
  const h = setup({ timeoutMs: 100, tolerableFailures: 1 });
  const write = deferred<{ dir: string }>();
  h.onFinalize = () => write.promise;
  const p = h.coordinator.triggerCheckpoint();
  h.ackAll(1);
  h.scheduler.advance(100);
  await rejectsWith(p, 'CHECKPOINT_EXPIRED');
  write.reject(new Error('EIO'));
  await settle();
  assert.deepEqual(h.events, ['trigger 1 @10000', 'finalize 1', 'discard 1', 'aborted 1', 'discard 1']);
  assert.equal(h.coordinator.consecutiveFailures(), 1);
  assert.equal(h.coordinator.stats.snapshot().counts.failed, 1);
});

// ---------------------------------------------------------------------------- subsumption and savepoints

test('two checkpoints finalized at once: when the newer one completes first, the older one is subsumed, never completed after it', async () => {
  const h = setup();
  const writes = new Map<number, Deferred<{ dir: string }>>();
  h.onFinalize = (m) => {
    const d = deferred<{ dir: string }>();
    writes.set(m.checkpointId, d);
    return d.promise;
  };
  // The newer one's completion is still being recorded (the store discards what it subsumes)
  // when the older one's metadata is written.
  const recording = deferred<void>();
  h.onCompletedImpl = (c) => (c.checkpointId === 2 ? recording.promise : undefined);
  const older = h.coordinator.triggerCheckpoint();
  const olderRejected = rejectsWith(older, 'CHECKPOINT_SUBSUMED', /subsumed by completed checkpoint 2/);
  const newer = h.coordinator.triggerCheckpoint();
  h.ackAll(1);
  h.ackAll(2);
  await settle();
  writes.get(2)!.resolve({ dir: '/cp/chk-2' });
  await settle();
  writes.get(1)!.resolve({ dir: '/cp/chk-1' });
  await settle();
  recording.resolve();
  await olderRejected;
  assert.equal((await newer).checkpointId, 2);
  assert.deepEqual(h.completed.map((c) => c.checkpointId), [2]);
  assert.ok(h.events.includes('discard 1'), 'the older checkpoint is discarded');
  assert.equal(h.coordinator.consecutiveFailures(), 0);
});

test('completing checkpoint n subsumes older pending checkpoints (not counted)', async () => {
  const h = setup({ tolerableFailures: 0, maxConcurrent: 3 });
  const one = h.coordinator.triggerCheckpoint();
  const two = h.coordinator.triggerCheckpoint();
  const three = h.coordinator.triggerCheckpoint();
  h.ack(1, TASKS[0]!);
  h.ackAll(2);
  assert.deepEqual(await two, { checkpointId: 2, dir: '/cp/chk-2' });
  await rejectsWith(one, 'CHECKPOINT_SUBSUMED', /Checkpoint 1 was subsumed by completed checkpoint 2\./);
  assert.deepEqual(h.events.slice(1 + 2), ['finalize 2', 'onCompleted 2', 'discard 1', 'aborted 1', 'complete 2']);
  assert.equal(h.coordinator.numPending(), 1, 'a newer checkpoint is unaffected');
  assert.equal(h.ack(1, TASKS[1]!), 'DISCARDED');
  assert.equal(h.jobFailures.length, 0);
  assert.equal(h.coordinator.consecutiveFailures(), 0);
  h.ackAll(3);
  assert.equal((await three).checkpointId, 3);
});

test('savepoints: kind savepoint, neither subsume nor are subsumed, no completion notice, failures not counted', async () => {
  const h = setup({ tolerableFailures: 0, maxConcurrent: 5 });
  const cp = h.coordinator.triggerCheckpoint();
  const sp = h.coordinator.triggerCheckpoint({ isSavepoint: true });
  assert.deepEqual(h.triggered[1], { id: 2, timestamp: START, isSavepoint: true });
  h.ackAll(2);
  assert.deepEqual(await sp, { checkpointId: 2, dir: '/cp/chk-2' });
  assert.equal(h.finalized[0]!.kind, 'savepoint');
  assert.equal(h.coordinator.numPending(), 1, 'the older checkpoint is not subsumed by a savepoint');
  assert.ok(!h.events.includes('complete 2'));
  assert.equal(h.completed[0]!.metadata.kind, 'savepoint');

  const sp2 = h.coordinator.triggerCheckpoint({ isSavepoint: true });
  h.ackAll(1);
  await cp;
  assert.equal(h.coordinator.numPending(), 1, 'an older savepoint is not subsumed by a checkpoint');
  h.coordinator.decline((3 as CheckpointId), TASKS[0]!, new Error('no'));
  await rejectsWith(sp2, 'CHECKPOINT_DECLINED');
  assert.equal(h.jobFailures.length, 0, 'a failed savepoint does not count');
  const snap = h.coordinator.stats.snapshot();
  assert.equal(snap.latest.savepoint!.id, 2);
  assert.equal(snap.latest.completed!.id, 1);
});

// ---------------------------------------------------------------------------- ids

test('ids continue after startAfterId and are never reused', async () => {
  const h = setup({ startAfterId: 41, timeoutMs: 10 });
  assert.equal(h.coordinator.nextCheckpointId(), 42);
  const a = h.coordinator.triggerCheckpoint();
  h.scheduler.advance(10);
  await rejectsWith(a, 'CHECKPOINT_EXPIRED');
  const b = h.coordinator.triggerCheckpoint();
  h.ackAll(43);
  assert.equal((await b).checkpointId, 43);
  assert.equal(h.coordinator.latestCompletedId(), 43);
  assert.equal(h.ack(41, TASKS[0]!), 'UNKNOWN');
  assert.deepEqual(ids(h), [42, 43]);
});

// ---------------------------------------------------------------------------- stats

test('stats: counts, bounded history newest first, latest, summary and restore', async () => {
  const h = setup({ statsHistorySize: 3, maxConcurrent: 5 });
  h.coordinator.stats.restored((41 as CheckpointId), START - 1, '/cp/chk-41');
  const first = h.coordinator.triggerCheckpoint(); // 1 @ +0
  h.scheduler.advance(10);
  h.ack(1, TASKS[0]!, 100);
  h.scheduler.advance(10);
  h.ack(1, TASKS[1]!, 200);
  let snap = h.coordinator.stats.snapshot();
  assert.deepEqual(snap.counts, { restored: 1, total: 1, in_progress: 1, completed: 0, failed: 0 });
  assert.deepEqual(snap.history[0], {
    id: 1,
    status: 'IN_PROGRESS',
    is_savepoint: false,
    checkpoint_type: 'CHECKPOINT',
    trigger_timestamp: START,
    latest_ack_timestamp: START + 20,
    end_to_end_duration: 20,
    state_size: 300,
    processed_data: 10,
    persisted_data: 0,
    num_subtasks: 3,
    num_acknowledged_subtasks: 2,
    subtasks: {
      '0/0': {
        ack_timestamp: START + 10,
        sync_duration: 1,
        async_duration: 2,
        alignment_duration: 3,
        start_delay: 4,
        bytes_processed_during_alignment: 5,
        persisted_data: 0,
        unaligned_checkpoint: false,
        busy_time_ms_per_second: 6,
        back_pressured_time_ms_per_second: 7,
        state_size: 100,
      },
      '0/1': {
        ack_timestamp: START + 20,
        sync_duration: 1,
        async_duration: 2,
        alignment_duration: 3,
        start_delay: 4,
        bytes_processed_during_alignment: 5,
        persisted_data: 0,
        unaligned_checkpoint: false,
        busy_time_ms_per_second: 6,
        back_pressured_time_ms_per_second: 7,
        state_size: 200,
      },
    },
  });
  h.scheduler.advance(30);
  h.ack(1, TASKS[2]!, 300);
  await first;

  h.scheduler.advance(100);
  const second = h.coordinator.triggerCheckpoint(); // 2 @ +150
  h.scheduler.advance(10);
  h.ackAll(2, 1_000);
  await second;

  const third = h.coordinator.triggerCheckpoint({ isSavepoint: true }); // 3 @ +160
  h.scheduler.advance(40);
  h.coordinator.decline((3 as CheckpointId), TASKS[0]!, new Error('boom'));
  await rejectsWith(third, 'CHECKPOINT_DECLINED');
  void h.coordinator.triggerCheckpoint().catch(() => {}); // 4 @ +200, in progress

  snap = h.coordinator.stats.snapshot();
  assert.deepEqual(snap.counts, { restored: 1, total: 4, in_progress: 1, completed: 2, failed: 1 });
  assert.deepEqual(snap.history.map((e) => [e.id, e.status]), [
    [4, 'IN_PROGRESS'],
    [3, 'FAILED'],
    [2, 'COMPLETED'],
  ]);
  const [fourth, failed, completed] = snap.history;
  assert.equal(fourth!.end_to_end_duration, -1);
  assert.equal(fourth!.latest_ack_timestamp, -1);
  assert.equal(failed!.is_savepoint, true);
  assert.match(failed!.failure_message!, /Subtask 0\/0 declined checkpoint 3: boom/);
  assert.equal(failed!.end_to_end_duration, 40);
  assert.equal(completed!.external_path, '/cp/chk-2');
  assert.equal(completed!.state_size, 3_000);
  assert.equal(snap.latest.completed!.id, 2);
  assert.equal(snap.latest.failed!.id, 3);
  assert.equal(snap.latest.savepoint, null);
  assert.deepEqual(snap.latest.restored, { id: 41, restore_timestamp: START - 1, is_savepoint: false, external_path: '/cp/chk-41' });
  assert.deepEqual(snap.summary, {
    end_to_end_duration: { min: 10, max: 50, avg: 30 },
    state_size: { min: 600, max: 3_000, avg: 1_800 },
  });
  // A snapshot is a copy.
  snap.history[0]!.status = 'COMPLETED';
  assert.equal(h.coordinator.stats.snapshot().history[0]!.status, 'IN_PROGRESS');
  assert.doesNotThrow(() => JSON.stringify(snap));
});

// ---------------------------------------------------------------------------- shutdown

test('shutdown aborts pending checkpoints; later events are harmless', async () => {
  const h = setup({ maxConcurrent: 3 });
  h.coordinator.startPeriodic();
  const write = deferred<{ dir: string }>();
  h.onFinalize = (m) => (m.checkpointId === 1 ? write.promise : Promise.resolve({ dir: 'x' }));
  const finalizing = h.coordinator.triggerCheckpoint();
  h.ackAll(1);
  const waiting = h.coordinator.triggerCheckpoint();
  h.ack(2, TASKS[0]!);
  h.coordinator.shutdown();
  await rejectsWith(finalizing, 'CHECKPOINT_COORDINATOR_SHUTDOWN');
  await rejectsWith(waiting, 'CHECKPOINT_COORDINATOR_SHUTDOWN');
  assert.equal(h.coordinator.numPending(), 0);
  assert.equal(h.scheduler.pendingCount, 0, 'no timers left behind');
  const eventsAtShutdown = [...h.events];
  assert.deepEqual(eventsAtShutdown.slice(-4), ['discard 1', 'aborted 1', 'discard 2', 'aborted 2']);

  assert.equal(h.ack(2, TASKS[1]!), 'DISCARDED');
  assert.equal(h.coordinator.decline((2 as CheckpointId), TASKS[1]!, new Error('late')), 'IGNORED');
  write.resolve({ dir: '/cp/chk-1' });
  await settle();
  h.scheduler.advance(100_000);
  h.coordinator.shutdown();
  h.coordinator.abortPending('TASK_FAILURE');
  h.coordinator.startPeriodic();
  h.scheduler.advance(1_000);
  await rejectsWith(h.coordinator.triggerCheckpoint(), 'CHECKPOINT_COORDINATOR_SHUTDOWN');
  // Only the late write's removal happened after shutdown; no gateway call, no trigger.
  assert.deepEqual(h.events.slice(eventsAtShutdown.length), ['discard 1']);
  assert.equal(h.completed.length, 0);
});

test('invalid options are rejected', () => {
  assert.throws(() => setup({ intervalMs: 0 }), RangeError);
  assert.throws(() => setup({ timeoutMs: -1 }), RangeError);
  assert.throws(() => setup({ minPauseMs: Number.NaN }), RangeError);
  assert.throws(() => setup({ maxConcurrent: 0 }), RangeError);
  assert.throws(() => setup({ tolerableFailures: -1 }), RangeError);
  assert.throws(() => setup({ startAfterId: -1 }), RangeError);
  assert.throws(() => setup({ operators: [...OPERATORS, OPERATORS[0]!] }), RangeError);
});

test('state for an operator outside the acknowledging vertex fails finalisation', async () => {
  const h = setup();
  const p = h.coordinator.triggerCheckpoint();
  h.coordinator.acknowledge({ ...ackFor(1, TASKS[2]!), states: [{ operatorId: 'op-src', files: [] }] });
  h.ack(1, TASKS[0]!);
  h.ack(1, TASKS[1]!);
  await rejectsWith(p, 'FINALIZE_CHECKPOINT_FAILURE', /reported state for operator op-src, which is not part of vertex 1/);
  assert.equal(h.finalized.length, 0);
});
