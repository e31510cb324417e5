import assert from 'node:assert/strict';
import type { CheckpointId } from '../../src/core/ids.ts';
import { describe, it } from 'node:test';
import { TaskLifecycle, type TaskState } from '../../src/runtime/task/task-lifecycle.ts';
import { TaskMailbox } from '../../src/runtime/task/task-mailbox.ts';
import { slotEventFromWire, slotEventToWire } from '../../src/runtime/worker/protocol.ts';
import type { SlotEvent } from '../../src/runtime/slot-event.ts';

describe('TaskLifecycle', () => {
  it('allows CREATED → INITIALIZING → RUNNING → one terminal state, and never leaves a terminal state', () => {
    const l = new TaskLifecycle();
    assert.equal(l.state, 'CREATED');
    assert.equal(l.to('RUNNING'), false, 'not before initialising');
    assert.equal(l.to('INITIALIZING'), true);
    assert.equal(l.to('RUNNING'), true);
    assert.equal(l.running, true);
    assert.equal(l.to('FINISHED'), true);
    for (const s of ['RUNNING', 'FAILED', 'CANCELED', 'INITIALIZING'] as TaskState[]) assert.equal(l.to(s), false, `FINISHED → ${s}`);
    assert.equal(l.terminal, true);
  });

  it('fails or cancels from any state that is not terminal; the first terminal state wins', () => {
    for (const path of [[], ['INITIALIZING'], ['INITIALIZING', 'RUNNING']] as TaskState[][]) {
      const l = new TaskLifecycle();
      for (const s of path) l.to(s);
      assert.equal(l.to('FAILED'), true);
      assert.equal(l.to('CANCELED'), false);
      assert.equal(l.state, 'FAILED');
    }
  });
});

describe('TaskMailbox', () => {
  it('runs mails before the default action, never while suspended, and resumes when the suspension ends', async () => {
    const order: string[] = [];
    let release!: () => void;
    const owner = { running: true, processInput: () => void order.push('input'), resumed: () => void order.push('resumed'), fail: (e: unknown) => void order.push(`fail ${e}`) };
    const mailbox = new TaskMailbox(owner);
    mailbox.suspendUntil(new Promise<void>((r) => (release = r)));
    mailbox.enqueue(() => void order.push('mail'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'suspended: nothing runs');
    release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['resumed', 'mail', 'input']);
  });

  it('a failing suspension fails the task', async () => {
    const failures: unknown[] = [];
    const mailbox = new TaskMailbox({ running: true, processInput: () => {}, resumed: () => {}, fail: (e) => void failures.push(e) });
    mailbox.suspendUntil(Promise.reject(new Error('sink broke')));
    await new Promise((r) => setImmediate(r));
    assert.equal((failures[0] as Error).message, 'sink broke');
    assert.equal(mailbox.suspended, 0);
  });
});

describe('slot events on the wire', () => {
  it('round-trip every kind; errors as data keep name, message and cause; collected values are encoded once', () => {
    const cause = new TypeError('inner');
    const events: SlotEvent[] = [
      { type: 'print', text: 'hi\n', stderr: false },
      { type: 'collect', collectId: 'c', values: [1, 'a', { b: [2] }], epoch: 3 },
      { type: 'finished' },
      { type: 'failed', error: new Error('outer', { cause }), task: 'Map (1/2)' },
      { type: 'decline', checkpointId: 4 as CheckpointId, subtask: { vertex: 1, subtask: 0 }, reason: 'CHECKPOINT_DECLINED', error: new Error('no') },
      { type: 'metrics', subtasks: [{ vertex: 0, subtask: 1, taskName: 'S', timestamp: 5, metrics: [] }] },
    ];
    for (const e of events) {
      const { message, transfer } = slotEventToWire(e);
      const copy = structuredClone(message);
      const back = slotEventFromWire(copy as Parameters<typeof slotEventFromWire>[0]);
      if (e.type === 'failed' || e.type === 'decline') {
        assert.equal(back.type, e.type);
        const err = (back as { error: Error }).error;
        assert.equal(err.message, e.error.message);
        if (e.type === 'failed') assert.equal((err.cause as Error).name, 'TypeError');
      } else {
        assert.deepEqual(back, e);
      }
      assert.equal(transfer.length, e.type === 'collect' ? 1 : 0);
    }
  });
});
