import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Counter } from '../../src/api/metrics.ts';
import { ManualScheduler } from '../../src/core/time.ts';
import { localJobOf } from '../../src/runtime/local-job.ts';
import { MeterView } from '../../src/runtime/metrics/meter-view.ts';
import { MetricRegistry } from '../../src/runtime/metrics/metric-registry.ts';
import type { MetricReporter } from '../../src/api/metrics.ts';
import { metricIdentifier, type SubtaskMetrics } from '../../src/runtime/metrics/metric-snapshot.ts';
import { SlidingWindowHistogram } from '../../src/runtime/metrics/sliding-window-histogram.ts';
import { operatorMetricGroup, taskMetricGroup } from '../../src/runtime/metrics/task-metric-group.ts';
import { startJob } from '../../src/testing/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SCOPE = { host: 'h1', taskManagerId: 'tm-1', jobId: 'j1', jobName: 'My Job', taskName: 'Source -> Map', subtaskIndex: 2, attemptNumber: 0 };

describe('metric groups', () => {
  it('name metrics with Flink scopes and carry the variables of every level', () => {
    const registry = new MetricRegistry();
    const clock = new ManualScheduler(0);
    const task = taskMetricGroup(registry, clock, SCOPE);
    const op = operatorMetricGroup(task, registry, clock, 'Map', 'abc');
    assert.deepEqual(task.getScopeComponents(), ['h1', 'taskmanager', 'tm-1', 'My Job', 'Source -> Map', '2']);
    assert.equal(op.getMetricIdentifier('numRecordsIn'), 'h1.taskmanager.tm-1.My Job.Map.2.numRecordsIn');
    const vars = op.addGroup('shard', 'a').getAllVariables();
    assert.equal(vars['<job_id>'], 'j1');
    assert.equal(vars['<task_name>'], 'Source -> Map');
    assert.equal(vars['<subtask_index>'], '2');
    assert.equal(vars['<operator_name>'], 'Map');
    assert.equal(vars['<shard>'], 'a', 'a key/value group adds its variable');
    assert.deepEqual(op.addGroup('user').getScopeComponents().slice(-3), ['Map', '2', 'user']);
    assert.equal(op.addGroup('user'), op.addGroup('user'), 'the same subgroup each time');
  });

  it('snapshot every metric kind as plain data; a duplicate name keeps the first metric', () => {
    const registry = new MetricRegistry();
    const clock = new ManualScheduler(0);
    const g = operatorMetricGroup(taskMetricGroup(registry, clock, SCOPE), registry, clock, 'Map', 'abc');
    const c = g.counter('c');
    c.inc();
    c.inc(4);
    c.dec();
    assert.equal(c.getCount(), 4);
    const other: Counter = g.counter('c');
    other.inc(100);
    let level = 7;
    g.gauge('level', () => level);
    g.gauge('obj', { getValue: () => ({ a: 1 }) });
    const m = g.meter('rate', new MeterView(clock, 60));
    const h = g.histogram('h', new SlidingWindowHistogram(4));
    for (const v of [1, 2, 3, 4, 5]) h.update(v);
    m.markEvent(10);
    clock.advance(2000);
    m.markEvent(10);
    level = 9;
    const byName = new Map(registry.snapshot().map((s) => [s.name, s]));
    assert.deepEqual(byName.get('c')!.value, { kind: 'counter', count: 4 });
    assert.deepEqual(byName.get('level')!.value, { kind: 'gauge', value: 9 });
    assert.deepEqual(byName.get('obj')!.value, { kind: 'gauge', value: '[object Object]' });
    assert.deepEqual(byName.get('rate')!.value, { kind: 'meter', count: 20, rate: 10 });
    const hv = byName.get('h')!.value;
    assert.equal(hv.kind === 'histogram' && `${hv.count} ${hv.min} ${hv.max} ${hv.p50}`, '5 2 5 3.5', 'the window holds the latest 4');
    assert.equal(metricIdentifier(byName.get('c')!), 'h1.taskmanager.tm-1.My Job.Map.2.c');
  });

  it('a reporter hears of metrics registered before and after it was added, and of their removal', () => {
    const registry = new MetricRegistry();
    const g = taskMetricGroup(registry, new ManualScheduler(0), SCOPE);
    g.counter('early');
    const heard: string[] = [];
    const reporter: MetricReporter = {
      open: () => {},
      close: () => {},
      notifyOfAddedMetric: (_m, name, group) => void heard.push(`+${group.getMetricIdentifier(name)}`),
      notifyOfRemovedMetric: (_m, name) => void heard.push(`-${name}`),
    };
    registry.addReporter(reporter);
    g.gauge('late', () => 1);
    registry.clear();
    assert.deepEqual(heard, ['+h1.taskmanager.tm-1.My Job.Source -> Map.2.early', '+h1.taskmanager.tm-1.My Job.Source -> Map.2.late', '-early', '-late']);
  });
});

describe('metrics from running jobs', () => {
  for (const mode of ['inline', 'threads'] as const) {
    it(`the job reads a user counter's value while it runs (${mode}), with numRecordsIn/numRecordsOut per task`, async () => {
      const client = await startJob('test/runtime/jobs/user-metrics.ts', { parallelism: 2, mode });
      try {
        const job = localJobOf(client)!;
        let counted: SubtaskMetrics[] = [];
        const mapped = () =>
          job
            .getMetrics()
            .flatMap((s) => s.metrics)
            .filter((m) => m.name === 'mapped');
        for (let i = 0; i < 100 && !(mapped().length === 2 && mapped().every((m) => m.value.kind === 'counter' && m.value.count > 0)); i++) {
          job.requestMetrics();
          await sleep(50);
        }
        counted = job.getMetrics();
        const users = mapped();
        assert.equal(users.length, 2, 'one counter per subtask of the map');
        for (const m of users) {
          assert.ok(m.value.kind === 'counter' && m.value.count > 0);
          assert.equal(m.variables['<operator_name>'], 'counting map');
          assert.equal(m.variables['<job_name>'], 'user metrics');
          assert.deepEqual(m.scope.slice(1, 2), ['taskmanager']);
          assert.equal(m.scope[m.scope.length - 1], 'user');
        }
        const sourceOut = counted.flatMap((s) => s.metrics).filter((m) => m.name === 'numRecordsOut' && m.variables['<operator_name>'] === undefined);
        assert.ok(sourceOut.some((m) => m.value.kind === 'counter' && m.value.count > 0), 'the source task counts the records it sends');
        const mapIn = counted.flatMap((s) => s.metrics).filter((m) => m.name === 'numRecordsIn' && m.variables['<operator_name>'] === undefined);
        assert.ok(mapIn.some((m) => m.value.kind === 'counter' && m.value.count > 0), 'the map task counts the records it takes in');
      } finally {
        await client.cancel();
      }
    });
  }
});
