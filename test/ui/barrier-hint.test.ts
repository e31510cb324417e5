/**
 * The barrier timeline's model (ui/src/barrier-model.ts), run in Node: each subtask's phases from its
 * acknowledged figures, and the hint naming the part that dominates the slowest subtask.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SubtaskCheckpoint } from '../../ui/src/api-types.ts';
import { checkpointHint, phasesOf, type TimelineRow } from '../../ui/src/barrier-model.ts';

function acked(index: number, f: { delay: number; align: number; sync: number; async: number; e2e: number }): SubtaskCheckpoint {
  return {
    index,
    status: 'completed',
    ack_timestamp: 1000 + f.e2e,
    end_to_end_duration: f.e2e,
    start_delay: f.delay,
    alignment: { buffered: 0, processed: 0, persisted: 0, duration: f.align },
    checkpoint: { sync: f.sync, async: f.async },
    state_size: 10,
    checkpointed_size: 10,
    persisted_data: 0,
    processed_data: 0,
    unaligned_checkpoint: false,
    aborted: false,
  };
}

const row = (vertex: string, subtask: SubtaskCheckpoint, parallelism = 2): TimelineRow => ({ vertex, parallelism, subtask });

test('phases follow one another from the trigger; the acknowledgement fills up to the end-to-end duration', () => {
  const phases = phasesOf(acked(0, { delay: 30, align: 5, sync: 2, async: 40, e2e: 90 }));
  assert.deepEqual(phases, [
    { name: 'start delay', from: 0, to: 30 },
    { name: 'alignment', from: 30, to: 35 },
    { name: 'sync', from: 35, to: 37 },
    { name: 'async', from: 37, to: 77 },
    { name: 'acknowledgement', from: 77, to: 90 },
  ]);
  assert.equal(phasesOf({ index: 1, status: 'pending_or_failed' }), undefined, 'no phases without an acknowledgement');
});

test('the hint names the dominant part of the slowest subtask and what it points at', () => {
  const delayed = checkpointHint({ id: 7, status: 'COMPLETED' }, [row('source', acked(0, { delay: 5, align: 0, sync: 0, async: 1, e2e: 8 })), row('window', acked(1, { delay: 900, align: 10, sync: 3, async: 20, e2e: 940 }))]);
  assert.equal(delayed.phase, 'start delay');
  assert.match(delayed.text, /^Checkpoint 7: its slowest subtask, window \(2\/2\), acknowledged after 940 ms, 96% of it in the start delay \(900 ms\)\./);
  assert.match(delayed.text, /backpressure upstream/);

  const skewed = checkpointHint({ id: 8, status: 'COMPLETED' }, [row('join', acked(0, { delay: 10, align: 700, sync: 1, async: 30, e2e: 745 }))]);
  assert.equal(skewed.phase, 'alignment');
  assert.match(skewed.text, /skew between its inputs/);

  const storage = checkpointHint({ id: 9, status: 'COMPLETED' }, [row('state', acked(0, { delay: 10, align: 0, sync: 4, async: 2600, e2e: 2620 }))]);
  assert.equal(storage.phase, 'async');
  assert.match(storage.text, /in the asynchronous part \(2\.60 s\)\. Writing the snapshot to checkpoint storage/);
});

test('a quick checkpoint needs no advice; one that failed or runs names the subtasks that did not acknowledge', () => {
  const quick = checkpointHint({ id: 3, status: 'COMPLETED' }, [row('map', acked(0, { delay: 5, align: 0, sync: 0, async: 10, e2e: 20 })), row('map', acked(1, { delay: 5, align: 0, sync: 0, async: 2, e2e: 9 }))]);
  assert.equal(quick.text, 'Checkpoint 3 was quick: its slowest subtask, map (1/2), acknowledged after 20 ms. Nothing to tune.');

  const rows = [row('source', acked(0, { delay: 5, align: 0, sync: 0, async: 1, e2e: 14 }), 1), row('count', { index: 0, status: 'pending_or_failed' }), row('count', { index: 1, status: 'pending_or_failed' })];
  const expired = checkpointHint({ id: 36, status: 'FAILED', failure_message: 'Checkpoint expired before completing' }, rows);
  assert.equal(expired.phase, undefined);
  assert.match(expired.text, /^Checkpoint 36 failed: Checkpoint expired before completing\. 2 of 3 subtasks never acknowledged: count \(1\/2, 2\/2\)\. The others acknowledged within 14 ms\. Barriers reach a task late/);
  const running = checkpointHint({ id: 37, status: 'IN_PROGRESS' }, rows);
  assert.match(running.text, /^Checkpoint 37 is in progress\. 2 of 3 subtasks have not acknowledged yet: count \(1\/2, 2\/2\)\./);
  assert.match(checkpointHint({ id: 4, status: 'IN_PROGRESS' }, [row('map', { index: 0, status: 'pending_or_failed' })]).text, /^Checkpoint 4 is in progress\. 1 of 1 subtasks have not acknowledged yet: map \(1\/2\)\. Barriers/);
});
