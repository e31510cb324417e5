/**
 * The Prometheus endpoint over real HTTP: its configuration (Flink's keys, a port range), the
 * names and labels of a running cluster job's metrics as Flink's PrometheusReporter makes them
 * (with `weir_`), GET /metrics on the REST port, and a real Prometheus (/usr/bin/prometheus)
 * scraping the endpoint until a PromQL query returns a live value that grows.
 *
 * Without /usr/bin/prometheus the scrape test is skipped, unless CI=true, where it fails.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ClusterMetrics } from '../../src/metrics/cluster-metrics.ts';
import { startMetricReporters, type MetricReporters } from '../../src/metrics/prometheus-reporter.ts';
import { MetricsConfigError, reporterConfigs } from '../../src/metrics/reporter-config.ts';
import { TASK_MANAGER_ID } from '../../src/runtime/slot.ts';
import { jobFixture, startTestCluster, type TestCluster } from '../support/rest-cluster.ts';
import { poll } from '../support/poll.ts';

const PROMETHEUS = '/usr/bin/prometheus';
/** The REST API's TaskManager id as a label value (Flink's filter: `_` for characters outside [a-zA-Z0-9:_]). */
const TM_LABEL = TASK_MANAGER_ID.replace(/[^a-zA-Z0-9:_]/g, '_');
const FLINK_FACTORY = 'org.apache.flink.metrics.prometheus.PrometheusReporterFactory';

let cluster: TestCluster;
let reporters: MetricReporters | undefined;
let jobId: string;

/** A port nothing listens on now, and the one after it, free too. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (port >= 65535) continue;
    const next = await new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false)).listen(port + 1, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (next) return port;
  }
}

before(async () => {
  cluster = await startTestCluster({ slots: 2, config: (root) => ({ 'state.checkpoints.dir': join(root, 'checkpoints') }) });
  jobId = await cluster.client.submitJob({ jobModule: jobFixture('cluster-unbounded'), parallelism: 2, programArgs: ['prom job'] });
});

after(async () => {
  await reporters?.close();
  await cluster.close();
});

test('reporter configuration: Flink keys are accepted, bad ones are refused naming the key', () => {
  assert.deepEqual(reporterConfigs({ 'metrics.reporter.prom.factory.class': FLINK_FACTORY, 'metrics.reporter.prom.port': '9249-9260' }), [
    { name: 'prom', ports: { from: 9249, to: 9260 }, host: '127.0.0.1', filterLabelValueCharacters: true },
  ]);
  assert.deepEqual(reporterConfigs({ 'metrics.reporter.p.factory.class': 'prometheus' })[0]!.ports, { from: 9249, to: 9249 });
  assert.deepEqual(reporterConfigs({ 'state.checkpoints.dir': '/x' }), [], 'no reporter configured');
  const refused = (config: Record<string, string>, message: RegExp) => assert.throws(() => reporterConfigs(config), (e: unknown) => e instanceof MetricsConfigError && message.test(e.message));
  refused({ 'metrics.reporter.prom.factory.class': 'com.example.Nope' }, /^metrics\.reporter\.prom\.factory\.class: unknown reporter factory "com\.example\.Nope"/);
  refused({ 'metrics.reporter.prom.port': '9249' }, /^metrics\.reporter\.prom\.factory\.class is missing/);
  refused({ 'metrics.reporter.prom.factory.class': 'prometheus', 'metrics.reporter.prom.port': '9260-9249' }, /^metrics\.reporter\.prom\.port: "9260-9249" is not a port/);
  refused({ 'metrics.reporter.prom.factory.class': 'prometheus', 'metrics.reporter.prom.port': 'http' }, /^metrics\.reporter\.prom\.port: "http"/);
  refused({ 'metrics.reporter.prom.factory.class': 'prometheus', 'metrics.reporter.prom.prot': '1' }, /^metrics\.reporter\.prom\.prot: unknown reporter option "prot"/);
  refused({ 'metrics.reporter.prom.factory.class': 'prometheus', 'metrics.reporter.prom.filterLabelValueCharacters': 'yes' }, /filterLabelValueCharacters: "yes" is not true or false/);
  refused({ 'metrics.reporters': 'prom,jmx', 'metrics.reporter.prom.factory.class': 'prometheus' }, /^metrics\.reporter\.jmx\.factory\.class is missing \(the reporter is named in metrics\.reporters\)/);
});

test('the endpoint takes the first free port of its range and names metrics as Flink does, with weir_', async () => {
  const first = await freePortPair();
  // The range's first port is taken: the reporter moves on to the next.
  const blocker = createServer().listen(first, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const metrics = new ClusterMetrics(cluster.dispatcher);
  try {
    reporters = await startMetricReporters({ 'metrics.reporter.prom.factory.class': FLINK_FACTORY, 'metrics.reporter.prom.port': `${first}-${first + 1}` }, () => metrics.snapshot());
  } finally {
    blocker.close();
  }
  assert.equal(reporters.reporters[0]!.port, first + 1);
  const url = `http://127.0.0.1:${first + 1}/metrics`;
  // At parallelism 2 the keyed exchange crosses worker threads, whose batches are counted in bytes.
  const bytesIn = /^weir_taskmanager_job_task_numBytesIn\{[^}]*task_name="count_per_key____discard"[^}]*\} [1-9]/m;
  const text = await poll('the source operator numRecordsOut and the keyed task numBytesIn', 15_000, async () => {
    const t = await (await fetch(url)).text();
    return /weir_taskmanager_job_task_operator_numRecordsOut\{[^}]*operator_name="ticks"[^}]*\} [1-9]/.test(t) && bytesIn.test(t) ? t : undefined;
  });
  const line = text.split('\n').find((l) => l.startsWith('weir_taskmanager_job_task_operator_numRecordsOut{') && l.includes('operator_name="ticks"'))!;
  for (const label of [`job_id="${jobId}"`, 'job_name="prom_job"', 'task_name="ticks"', 'subtask_index="', 'task_attempt_num="0"', `tm_id="${TM_LABEL}"`, 'host="', 'operator_id="']) {
    assert.ok(line.includes(label), `${line} has ${label}`);
  }
  assert.match(text, /^# TYPE weir_taskmanager_job_task_numRecordsIn gauge$/m);
  assert.match(text, /^weir_taskmanager_job_task_busyTimeMsPerSecond\{[^}]*task_name="count_per_key____discard"[^}]*\} \d+/m, 'label values filtered as Flink does');
  assert.match(text, /^weir_taskmanager_job_task_numRecordsOutPerSecond\{[^}]*task_name="ticks"/m);
  assert.match(text, /^weir_jobmanager_job_uptime\{[^}]*job_id="[0-9a-f]{32}"[^}]*\} [1-9]/m);
  assert.match(text, /^weir_jobmanager_job_numRestarts\{[^}]*\} 0$/m);
  assert.match(text, /^weir_jobmanager_job_totalNumberOfCheckpoints\{/m);
  assert.match(text, /^weir_jobmanager_Status_Node_Memory_Heap_Used\{host="[^"]+"\} [1-9]/m);
  assert.match(text, /^weir_jobmanager_Status_Node_Memory_RSS\{host="[^"]+"\} [1-9]/m);
  assert.match(text, new RegExp(`^weir_taskmanager_Status_Node_GarbageCollector_All_Time\\{host="[^"]+",tm_id="${TM_LABEL}"\\} \\d+`, 'm'));
  assert.match(text, /^weir_taskmanager_Status_Node_EventLoop_Delay_Max\{/m);

  const rest = await fetch(`${cluster.base}/metrics`);
  assert.equal(rest.status, 200);
  assert.match(rest.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await rest.text(), /^weir_taskmanager_job_task_operator_numRecordsOut\{[^}]*operator_name="ticks"/m, 'the same text on the REST port');
});

test('a real Prometheus scrapes the endpoint and a PromQL query returns a growing value', async (t) => {
  if (!existsSync(PROMETHEUS)) {
    if (process.env.CI === 'true') assert.fail(`${PROMETHEUS} is missing: the Prometheus scrape test is mandatory under CI=true`);
    t.skip(`${PROMETHEUS} is not installed (apt-get install prometheus): the real scrape is not tested`);
    return;
  }
  assert.ok(reporters, 'the previous test started the endpoint');
  const target = `127.0.0.1:${reporters.reporters[0]!.port}`;
  const dir = mkdtempSync(join(tmpdir(), 'weir-prometheus-'));
  const port = await freePortPair();
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: weir\n    static_configs:\n      - targets: ['${target}']\n`);
  const log: string[] = [];
  const prometheus: ChildProcess = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prometheus.stderr!.on('data', (b: Buffer) => log.push(b.toString()));
  try {
    // By the TaskManager too: its id from GET /taskmanagers, as the label filter writes it.
    const tmId = (await cluster.client.taskManagers()).taskmanagers[0]!.id.replace(/[^a-zA-Z0-9:_]/g, '_');
    const query = `weir_taskmanager_job_task_operator_numRecordsOut{job_id="${jobId}",operator_name="ticks",subtask_index="0",tm_id="${tmId}"} > 0`;
    const value = async (): Promise<number | undefined> => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
      if (!res.ok) return undefined;
      const body = (await res.json()) as { status: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
      assert.equal(body.status, 'success');
      const r = body.data.result[0];
      if (r === undefined) return undefined;
      assert.equal(r.metric.job_name, 'prom_job');
      assert.equal(r.metric.task_name, 'ticks');
      return Number(r.value[1]);
    };
    const first = await poll(`Prometheus to return ${query} (its log: ${log.join('').slice(-2000)})`, 15_000, value);
    assert.ok(first > 0);
    const later = await poll('a larger value in a later scrape', 10_000, async () => {
      const v = await value();
      return v !== undefined && v > first ? v : undefined;
    });
    assert.ok(later > first, `numRecordsOut grows: ${first} then ${later}`);
  } finally {
    prometheus.kill('SIGTERM');
    await new Promise((r) => (prometheus.exitCode === null ? prometheus.once('exit', r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
});
