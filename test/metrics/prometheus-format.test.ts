/**
 * Flink's logical scopes and the Prometheus text made from metric snapshots: names from the
 * logical scope (user groups, key/value groups), labels from the variables, every metric kind,
 * label value filtering on and off, and families whose groups carry different variables.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualScheduler } from '../../src/core/time.ts';
import { prometheusName, prometheusText } from '../../src/metrics/prometheus-format.ts';
import { MeterView } from '../../src/runtime/metrics/meter-view.ts';
import { MetricRegistry } from '../../src/runtime/metrics/metric-registry.ts';
import { SlidingWindowHistogram } from '../../src/runtime/metrics/sliding-window-histogram.ts';
import { jobMetricGroup, operatorMetricGroup, taskMetricGroup } from '../../src/runtime/metrics/task-metric-group.ts';

const SCOPE = { host: 'h1', taskManagerId: 'tm-1', jobId: 'j1', jobName: 'My Job', taskName: 'Source -> Map', subtaskIndex: 2, attemptNumber: 1, taskId: 'v1' };

function groups() {
  const registry = new MetricRegistry();
  const clock = new ManualScheduler(0);
  const task = taskMetricGroup(registry, clock, SCOPE);
  const op = operatorMetricGroup(task, registry, clock, 'Map', 'op1');
  return { registry, clock, task, op };
}

test('groups have Flink logical scopes: the kind of each level, a user group its name, a key/value group its key', () => {
  const { registry, clock, task, op } = groups();
  assert.deepEqual(task.getLogicalScope(), ['taskmanager', 'job', 'task']);
  assert.deepEqual(op.getLogicalScope(), ['taskmanager', 'job', 'task', 'operator']);
  assert.deepEqual((op.addGroup('mine').addGroup('shard', 'a') as typeof op).getLogicalScope(), ['taskmanager', 'job', 'task', 'operator', 'mine', 'shard']);
  assert.deepEqual(jobMetricGroup(registry, clock, { host: 'h1', jobId: 'j1', jobName: 'J' }).getLogicalScope(), ['jobmanager', 'job']);
  op.counter('c');
  const [snap] = registry.snapshot();
  assert.deepEqual(snap!.logicalScope, ['taskmanager', 'job', 'task', 'operator']);
  assert.equal(prometheusName(snap!), 'weir_taskmanager_job_task_operator_c');
  assert.equal(prometheusName({ logicalScope: ['jobmanager'], name: 'Status.Node.Memory.RSS' }, 'flink'), 'flink_jobmanager_Status_Node_Memory_RSS');
});

test('Prometheus text: every kind, labels without brackets, filtered values, and families with mixed variables', async () => {
  const { registry, clock, task, op } = groups();
  op.counter('numRecordsOut').inc(7);
  task.gauge('flag', () => true);
  task.gauge('path', () => '/tmp/x');
  const meter = op.meter('rate', new MeterView(clock, 60));
  meter.markEvent(10);
  clock.advance(2000);
  const h = op.histogram('latency', new SlidingWindowHistogram(10));
  for (let i = 1; i <= 10; i++) h.update(i);
  op.addGroup('shard', 'a b').counter('hits').inc(2);
  op.addGroup('hits-plain').counter('x').inc(1);
  const { text, contentType } = await prometheusText(registry.snapshot());
  assert.match(contentType, /^text\/plain/);
  const labels =
    'host="h1",job_id="j1",job_name="My_Job",operator_id="op1",operator_name="Map",subtask_index="2",task_attempt_num="1",task_id="v1",task_name="Source____Map",tm_id="tm_1"';
  assert.ok(text.includes(`weir_taskmanager_job_task_operator_numRecordsOut{${labels}} 7\n`), text);
  assert.match(text, /^# TYPE weir_taskmanager_job_task_operator_numRecordsOut gauge$/m);
  assert.match(text, /^weir_taskmanager_job_task_flag\{[^}]*\} 1$/m, 'a boolean is 1 or 0');
  assert.doesNotMatch(text, /weir_taskmanager_job_task_path/, 'a string gauge is left out');
  assert.match(text, /^weir_taskmanager_job_task_operator_rate\{[^}]*\} 5$/m, 'a meter is its rate: 10 events over 2 s');
  assert.match(text, /^weir_taskmanager_job_task_operator_latency\{[^}]*quantile="0\.5"[^}]*\} 5\.5$/m);
  assert.match(text, /^weir_taskmanager_job_task_operator_latency\{[^}]*quantile="0\.999"[^}]*\} /m);
  assert.match(text, /^weir_taskmanager_job_task_operator_latency_count\{[^}]*\} 10$/m);
  assert.match(text, /^weir_taskmanager_job_task_operator_shard_hits\{[^}]*shard="a_b"[^}]*\} 2$/m, 'a key/value group: its key in the name, its value a label');
  assert.match(text, /^weir_taskmanager_job_task_operator_hits_plain_x\{/m);

  const raw = await prometheusText(registry.snapshot(), { filterLabelValueCharacters: false, prefix: 'flink' });
  assert.match(raw.text, /^flink_taskmanager_job_task_operator_numRecordsOut\{[^}]*job_name="My Job"[^}]*task_name="Source -> Map"/m);

  // One name, groups with different variables: the labels a sample's group lacks are empty.
  const other = new MetricRegistry();
  const t = taskMetricGroup(other, clock, SCOPE);
  t.addGroup('k', 'v').counter('n').inc(1);
  t.addGroup('k', 'w').counter('n').inc(2);
  const mixed = await prometheusText([...other.snapshot(), { ...other.snapshot()[0]!, variables: { '<host>': 'h2' } }]);
  assert.match(mixed.text, /^weir_taskmanager_job_task_k_n\{host="h2",job_id="",/m);
});
