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
  const delayed = checkpointHint(7, [row('source', acked(0, { delay: 5, align: 0, sync: 0, async: 1, e2e: 8 })), row('window', acked(1, { delay: 900, align: 10, sync: 3, async: 20, e2e: 940 }))]);
  assert.equal(delayed.phase, 'start delay');
  assert.match(delayed.text, /^Checkpoint 7: its slowest subtask, window \(2\/2\), acknowledged after 940 ms, 96% of it in the start delay \(900 ms\)\./);
  assert.match(delayed.text, /backpressure upstream/);

  const skewed = checkpointHint(8, [row('join', acked(0, { delay: 10, align: 700, sync: 1, async: 30, e2e: 745 }))]);
  assert.equal(skewed.phase, 'alignment');
  assert.match(skewed.text, /skew between its inputs/);

  const storage = checkpointHint(9, [row('state', acked(0, { delay: 10, align: 0, sync: 4, async: 2600, e2e: 2620 }))]);
  assert.equal(storage.phase, 'async');
  assert.match(storage.text, /in the asynchronous part \(2\.60 s\)\. Writing the snapshot to checkpoint storage/);
});

test('a quick checkpoint needs no advice; pending subtasks are counted; none acknowledged says so', () => {
  const quick = checkpointHint(3, [row('map', acked(0, { delay: 5, align: 0, sync: 0, async: 10, e2e: 20 })), row('map', { index: 1, status: 'pending_or_failed' })]);
  assert.equal(quick.text, 'Checkpoint 3 was quick: its slowest subtask, map (1/2), acknowledged after 20 ms. Nothing to tune. 1 subtask has not acknowledged.');
  assert.deepEqual(checkpointHint(4, [row('map', { index: 0, status: 'pending_or_failed' })]), { text: 'No subtask has acknowledged checkpoint 4 yet.' });
});
