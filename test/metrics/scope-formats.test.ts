/**
 * Metric scope formats (`metrics.scope.*`): what they make of a running job's metric identifiers,
 * what they leave alone (Prometheus's names and labels, the REST API's ids), and the errors of
 * bad formats, which name the key.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, Configuration } from '../../src/api/configuration.ts';
import { applyScopeFormat, parseScopeFormat, scopeFormats } from '../../src/api/metric-scope-format.ts';
import { ManualScheduler } from '../../src/core/time.ts';
import { prometheusName } from '../../src/metrics/prometheus-format.ts';
import { MetricsConfigError, reporterConfigs } from '../../src/metrics/reporter-config.ts';
import { localJobOf } from '../../src/runtime/local-job.ts';
import { MetricRegistry } from '../../src/runtime/metrics/metric-registry.ts';
import type { MetricSnapshot } from '../../src/runtime/metrics/metric-snapshot.ts';
import { jobMetricGroup, operatorMetricGroup, taskManagerMetricGroup, taskMetricGroup } from '../../src/runtime/metrics/task-metric-group.ts';
import { TASK_MANAGER_ID } from '../../src/runtime/slot.ts';
import { startJob } from '../../src/testing/index.ts';

const JOB = 'test/metrics/jobs/scoped-user-metrics.ts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the job until both map subtasks reported their user metrics, and returns those. */
async function userMetrics(mode: 'inline' | 'threads', config: Record<string, string>): Promise<MetricSnapshot[]> {
  const client = await startJob(JOB, { parallelism: 2, mode, config });
  try {
    const job = localJobOf(client)!;
    const user = () =>
      job
        .getMetrics()
        .flatMap((s) => s.metrics)
        .filter((m) => m.scope.at(-1) === 'user');
    // Two metrics (mapped, identifier) per subtask, and records counted; generous for a loaded machine.
    const counted = () => user().filter((m) => m.value.kind === 'counter' && m.value.count > 0).length === 2;
    for (let i = 0; i < 400 && !(user().length === 4 && counted()); i++) {
      job.requestMetrics();
      await sleep(25);
    }
    const found = user();
    assert.equal(found.length, 4, 'the user counter and gauge of both map subtasks reported');
    assert.ok(counted(), 'both map subtasks counted records');
    return found.sort((a, b) => a.identifier.localeCompare(b.identifier));
  } finally {
    await client.cancel();
  }
}

const gaugeText = (m: MetricSnapshot) => (m.value.kind === 'gauge' ? m.value.value : undefined);

describe('scope formats in a running job', () => {
  it("Flink's default operator format names a user counter <host>.taskmanager.<tm_id>.<job_name>.<operator_name>.<subtask_index>", async () => {
    const ms = await userMetrics('inline', {});
    const mapped = ms.filter((m) => m.name === 'mapped');
    const host = hostname();
    assert.deepEqual(
      mapped.map((m) => m.identifier),
      [0, 1].map((i) => `${host}.taskmanager.${TASK_MANAGER_ID}.scoped metrics.counting map.${i}.user.mapped`),
    );
  });

  it('a custom operator format and delimiter change getMetricIdentifier inside the task, and only the names', async () => {
    const ms = await userMetrics('threads', { 'metrics.scope.operator': 'ops.<job_name>.<operator_name>.<subtask_index>', 'metrics.scope.delimiter': '/' });
    const identifiers = ms.filter((m) => m.name === 'identifier');
    // What the user function's getMetricIdentifier returned in the worker thread, reported by its gauge.
    assert.deepEqual(identifiers.map(gaugeText), ['ops/scoped metrics/counting map/0/user/mapped', 'ops/scoped metrics/counting map/1/user/mapped']);
    const mapped = ms.filter((m) => m.name === 'mapped');
    assert.deepEqual(
      mapped.map((m) => m.identifier),
      ['ops/scoped metrics/counting map/0/user/mapped', 'ops/scoped metrics/counting map/1/user/mapped'],
    );
    for (const m of mapped) {
      assert.ok(m.value.kind === 'counter' && m.value.count > 0);
      // Prometheus's name and labels and the REST API's query scope do not follow the formats.
      assert.equal(prometheusName(m), 'weir_taskmanager_job_task_operator_user_mapped');
      assert.equal(m.variables['<operator_name>'], 'counting map');
      assert.deepEqual(m.scope.slice(1, 3), ['taskmanager', TASK_MANAGER_ID]);
      assert.deepEqual(m.scope.slice(-2), ['counting map', 'user']);
    }
  });

  it('a bad format on the job is refused at submission, naming the key', async () => {
    await assert.rejects(startJob(JOB, { mode: 'inline', config: { 'metrics.scope.operator': '<host>.<operator>' } }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /^metrics\.scope\.operator: "<host>\.<operator>" uses the unknown variable <operator> \(known here: .*<operator_name>/);
      return true;
    });
  });
});

describe('scope formats', () => {
  const clock = new ManualScheduler(0);
  const TASK = { host: 'h', taskManagerId: 'tm', jobId: 'j1', jobName: 'J', taskName: 'T', subtaskIndex: 3, attemptNumber: 0, taskId: 'v1' };

  it("Flink's defaults, * for the parent's scope, Flink 1.x's key names, and the delimiter", () => {
    const d = taskMetricGroup(new MetricRegistry(), clock, TASK);
    assert.equal(d.getMetricIdentifier('x'), 'h.taskmanager.tm.J.T.3.x');
    assert.equal(operatorMetricGroup(d, new MetricRegistry(), clock, 'Op', 'o1').getMetricIdentifier('x'), 'h.taskmanager.tm.J.Op.3.x');
    const c = new Configuration({ 'metrics.scope.tm.job': '<host>.<job_id>', 'metrics.scope.task': '*.<task_name>', 'metrics.scope.operator': '*.<operator_id>', 'metrics.scope.delimiter': '_' });
    assert.equal(c.get('metrics.scope.tm-job'), '<host>.<job_id>');
    const formats = scopeFormats((k) => c.get(k as 'metrics.scope.task'));
    const task = taskMetricGroup(new MetricRegistry(), clock, TASK, formats);
    assert.deepEqual(task.getScopeComponents(), ['h', 'j1', 'T']);
    const op = operatorMetricGroup(task, new MetricRegistry(), clock, 'Op', 'o1');
    assert.equal(op.addGroup('k', 'v').getMetricIdentifier('n'), 'h_j1_T_o1_k_v_n');
    assert.deepEqual(op.getQueryScope(), ['h', 'taskmanager', 'tm', 'J', 'T', '3', 'Op']);
    const jm = scopeFormats((k) => ({ 'metrics.scope.jm': 'jm.<host>', 'metrics.scope.jm.job': '*.<job_id>' })[k]);
    assert.equal(jobMetricGroup(new MetricRegistry(), clock, { host: 'h', jobId: 'j1', jobName: 'J' }, jm).getMetricIdentifier('uptime'), 'jm.h.j1.uptime');
    assert.equal(taskManagerMetricGroup(new MetricRegistry(), clock, { host: 'h', taskManagerId: 'tm' }, jm).getMetricIdentifier('m'), 'h.taskmanager.tm.m');
    assert.deepEqual(applyScopeFormat(parseScopeFormat('task', '*'), {}, ['a', 'b']), ['a', 'b']);
  });

  it('groups whose formats give them the same identifier still keep their own metrics', () => {
    const registry = new MetricRegistry();
    const formats = scopeFormats((k) => (k === 'metrics.scope.operator' ? 'ops' : undefined));
    const task = taskMetricGroup(registry, clock, TASK, formats);
    operatorMetricGroup(task, registry, clock, 'A', 'a').counter('n').inc(1);
    operatorMetricGroup(task, registry, clock, 'B', 'b').counter('n').inc(2);
    const snaps = registry.snapshot();
    assert.deepEqual(snaps.map((m) => [m.identifier, m.variables['<operator_name>'], m.value]), [
      ['ops.n', 'A', { kind: 'counter', count: 1 }],
      ['ops.n', 'B', { kind: 'counter', count: 2 }],
    ]);
  });

  it('a malformed format or delimiter is a ConfigError naming the key', () => {
    const bad: [string, unknown, RegExp][] = [
      ['metrics.scope.task', '<host>..<task_name>', /^metrics\.scope\.task: "<host>\.\.<task_name>" has an empty component/],
      ['metrics.scope.task', '<host>.<task_name', /^metrics\.scope\.task: .*component "<task_name" is neither a literal nor a whole variable/],
      ['metrics.scope.task', '<host>.x<task_name>', /^metrics\.scope\.task: .*neither a literal/],
      ['metrics.scope.tm', '<host>.<job_name>', /^metrics\.scope\.tm: .*unknown variable <job_name> \(known here: <host>, <tm_id>\)/],
      ['metrics.scope.jm', '*.x', /^metrics\.scope\.jm: .*no parent scope/],
      ['metrics.scope.operator', '<host>.*', /^metrics\.scope\.operator: .*\* may only be the first component/],
      ['metrics.scope.jm.job', '  ', /^metrics\.scope\.jm\.job must be a scope format/],
      ['metrics.scope.delimiter', '::', /^metrics\.scope\.delimiter must be one character/],
    ];
    for (const [key, value, message] of bad) {
      assert.throws(() => new Configuration({ [key]: value }), (e: unknown) => e instanceof ConfigError && message.test(e.message), `${key}=${String(value)}`);
    }
  });

  it("a cluster's configuration: process formats checked, a job's formats pointed to the job", () => {
    assert.throws(() => reporterConfigs({ 'metrics.scope.tm': '<host>.<nope>' }), (e: unknown) => e instanceof ConfigError && /^metrics\.scope\.tm: .*<nope>/.test(e.message));
    assert.throws(
      () => reporterConfigs({ 'metrics.scope.operator': '<operator_name>' }),
      (e: unknown) => e instanceof MetricsConfigError && /^metrics\.scope\.operator: .*set on the job \(weir run -D/.test(e.message),
    );
    assert.deepEqual(reporterConfigs({ 'metrics.scope.jm': 'jm.<host>', 'metrics.scope.delimiter': '-' }), []);
  });
});
