/**
 * What checkpoint statistics keep of unaligned checkpoints: each subtask's persisted in-flight
 * bytes and whether it went unaligned, the checkpoint's type and sums, as the tracker records
 * them from acknowledgements and as the REST resources show them with Flink's field names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Configuration } from '../../src/api/configuration.ts';
import { CheckpointStatsTracker } from '../../src/checkpoint/checkpoint-stats.ts';
import type { SubtaskCheckpointMetrics } from '../../src/checkpoint/checkpoint-types.ts';
import { asCheckpointId } from '../../src/core/ids.ts';
import type { JobInfo, VertexInfo } from '../../src/cluster/dispatcher.ts';
import { checkpointConfig, checkpointStatistics, checkpointingStatistics, subtaskDetails } from '../../src/rest/dto/checkpoint-dto.ts';
import type { CompletedSubtaskCheckpointStatistics } from '../../src/rest/rest-types.ts';

const T0 = 1_700_000_000_000;

function metrics(m: Partial<SubtaskCheckpointMetrics>): SubtaskCheckpointMetrics {
  return {
    syncDurationMs: 1,
    asyncDurationMs: 2,
    alignmentDurationMs: 3,
    startDelayMs: 4,
    bytesProcessedDuringAlignment: 0,
    stateSize: 100,
    persistedDataBytes: 0,
    unaligned: false,
    busyTimeMsPerSecond: 0,
    backPressuredTimeMsPerSecond: 0,
    ...m,
  };
}

const vertex = (index: number, parallelism: number): VertexInfo => ({ id: `v${index}`, index, name: `vertex ${index}`, parallelism, maxParallelism: 128, inputs: [] });

test('a checkpoint becomes UNALIGNED_CHECKPOINT once a subtask acknowledges it unaligned; persisted and processed bytes add up', () => {
  const t = new CheckpointStatsTracker();
  const id = asCheckpointId(1);
  t.reportPending(id, T0, false, 3);
  t.reportAcknowledged(id, { vertex: 0, subtask: 0 }, T0 + 5, metrics({ bytesProcessedDuringAlignment: 10 }));
  assert.equal(t.snapshot().history[0]!.checkpoint_type, 'CHECKPOINT', 'aligned so far');
  t.reportAcknowledged(id, { vertex: 1, subtask: 0 }, T0 + 8, metrics({ persistedDataBytes: 4096, unaligned: true }));
  t.reportAcknowledged(id, { vertex: 1, subtask: 1 }, T0 + 9, metrics({ persistedDataBytes: 1000, unaligned: true, bytesProcessedDuringAlignment: 7 }));
  t.reportCompleted(id, T0 + 12, '/cp/chk-1');
  const e = t.snapshot().latest.completed!;
  assert.equal(e.checkpoint_type, 'UNALIGNED_CHECKPOINT');
  assert.equal(e.persisted_data, 5096);
  assert.equal(e.processed_data, 17);
  assert.deepEqual(
    Object.fromEntries(Object.entries(e.subtasks).map(([k, s]) => [k, [s.persisted_data, s.unaligned_checkpoint]])),
    { '0/0': [0, false], '1/0': [4096, true], '1/1': [1000, true] },
  );

  // A repeated acknowledgement of the same subtask counts once.
  const t2 = new CheckpointStatsTracker();
  t2.reportPending(asCheckpointId(2), T0, false, 2);
  t2.reportAcknowledged(asCheckpointId(2), { vertex: 0, subtask: 0 }, T0 + 1, metrics({ persistedDataBytes: 50, unaligned: true }));
  t2.reportAcknowledged(asCheckpointId(2), { vertex: 0, subtask: 0 }, T0 + 2, metrics({ persistedDataBytes: 50, unaligned: true }));
  assert.equal(t2.snapshot().history[0]!.persisted_data, 50);
});

test('an aligned checkpoint stays CHECKPOINT with nothing persisted; savepoints keep their type', () => {
  const t = new CheckpointStatsTracker();
  t.reportPending(asCheckpointId(1), T0, false, 1);
  t.reportAcknowledged(asCheckpointId(1), { vertex: 0, subtask: 0 }, T0 + 1, metrics({}));
  t.reportPending(asCheckpointId(2), T0 + 10, true, 1);
  // A savepoint is aligned whatever the job's setting; even a subtask claiming otherwise leaves its type.
  t.reportAcknowledged(asCheckpointId(2), { vertex: 0, subtask: 0 }, T0 + 11, metrics({ unaligned: true }));
  t.reportPending(asCheckpointId(3), T0 + 20, true, 1, true);
  const [stop, savepoint, checkpoint] = t.snapshot().history;
  assert.equal(checkpoint!.checkpoint_type, 'CHECKPOINT');
  assert.equal(checkpoint!.persisted_data, 0);
  assert.equal(savepoint!.checkpoint_type, 'SAVEPOINT');
  assert.equal(stop!.checkpoint_type, 'SYNC_SAVEPOINT', 'the savepoint of a stop-with-savepoint');
  assert.equal(stop!.is_savepoint, true);
});

test('the REST resources show the figures under Flink names', () => {
  const t = new CheckpointStatsTracker();
  const id = asCheckpointId(7);
  t.reportPending(id, T0, false, 3);
  t.reportAcknowledged(id, { vertex: 0, subtask: 0 }, T0 + 5, metrics({ bytesProcessedDuringAlignment: 3 }));
  t.reportAcknowledged(id, { vertex: 1, subtask: 0 }, T0 + 6, metrics({ persistedDataBytes: 300, unaligned: true }));
  t.reportAcknowledged(id, { vertex: 1, subtask: 1 }, T0 + 7, metrics({ persistedDataBytes: 100, unaligned: true }));
  t.reportCompleted(id, T0 + 9, '/cp/chk-7');
  const vertices = [vertex(0, 1), vertex(1, 2)];
  const entry = t.snapshot().latest.completed!;

  const stats = checkpointStatistics(entry, vertices);
  assert.equal(stats.checkpoint_type, 'UNALIGNED_CHECKPOINT');
  assert.equal(stats.persisted_data, 400);
  assert.equal(stats.processed_data, 3);
  assert.equal(stats.tasks['v0']!.persisted_data, 0);
  assert.equal(stats.tasks['v1']!.persisted_data, 400);
  assert.equal(stats.tasks['v1']!.processed_data, 0);
  assert.equal((stats as unknown as Record<string, unknown>)['subtasks'], undefined, 'per-subtask figures only in the subtask details');
  assert.equal(checkpointingStatistics(t.snapshot()).history[0]!.checkpoint_type, 'UNALIGNED_CHECKPOINT');

  const details = subtaskDetails(entry, vertices[1]!);
  assert.deepEqual(details.summary.alignment.persisted, { min: 100, max: 300, avg: 200, p50: 100, p90: 300, p95: 300, p99: 300, p999: 300 });
  const [s0, s1] = details.subtasks as CompletedSubtaskCheckpointStatistics[];
  assert.equal(s0!.persisted_data, 300);
  assert.equal(s0!.alignment.persisted, 300);
  assert.equal(s0!.unaligned_checkpoint, true);
  assert.equal(s1!.persisted_data, 100);
  const aligned = subtaskDetails(entry, vertices[0]!).subtasks[0] as CompletedSubtaskCheckpointStatistics;
  assert.equal(aligned.unaligned_checkpoint, false);
  assert.equal(aligned.persisted_data, 0);
});

test("the checkpoint config resource reads the job's unaligned settings, state backend and change log", () => {
  const job = (values: Record<string, unknown>) =>
    ({ id: 'j', config: new Configuration({ 'execution.checkpointing.interval': 1000, ...values }).toObject() }) as unknown as JobInfo;
  const off = checkpointConfig(job({}));
  assert.equal(off.unaligned_checkpoints, false);
  assert.equal(off.aligned_checkpoint_timeout, 0);
  const on = checkpointConfig(job({ 'execution.checkpointing.unaligned.enabled': 'true', 'execution.checkpointing.aligned-checkpoint-timeout': '5 s' }));
  assert.equal(on.unaligned_checkpoints, true);
  assert.equal(on.aligned_checkpoint_timeout, 5000);
  // The state backend and its change log, as configured.
  assert.equal(off.state_backend, 'HashMapStateBackend');
  assert.equal(off.state_changelog_enabled, false);
  const changelog = checkpointConfig(job({ 'state.backend.type': 'rocksdb', 'state.backend.changelog.enabled': 'true' }));
  assert.equal(changelog.state_backend, 'EmbeddedRocksDBStateBackend');
  assert.equal(changelog.state_changelog_enabled, true);
});
