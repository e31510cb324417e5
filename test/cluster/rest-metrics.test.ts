/**
 * Flink's metric resources over real HTTP on 127.0.0.1, with the client's methods: a job's
 * metrics (`?get=` semantics, string values), a vertex's per subtask, aggregated over subtasks
 * (`agg`, `subtasks`) and of one subtask, its watermarks and subtask times, the JobManager's and
 * the TaskManager's; the I/O figures of GET /jobs/:jobid's vertices; the checkpoint statistics'
 * percentiles. And the API answering while a job restarts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RestClient } from '../../src/rest/rest-client.ts';
import type { AggregatedMetric, MetricEntry } from '../../src/rest/rest-types.ts';
import { jobFixture, startTestCluster, type TestCluster } from '../support/rest-cluster.ts';

let cluster: TestCluster;
let client: RestClient;

/** GET over HTTP: the status and the JSON body. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read answers of every route through this one helper
async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(cluster.base + path);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `GET ${path} answers JSON`);
  return { status: res.status, body: await res.json() };
}

/** Polls `probe` every 100 ms until it returns a value, for at most 20 s. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const values = (entries: MetricEntry[]): Map<string, string> => new Map(entries.map((e) => [e.id, e.value!]));

const JOB_METRICS = [
  'uptime',
  'numRestarts',
  'lastCheckpointDuration',
  'lastCheckpointSize',
  'lastCheckpointFullSize',
  'lastCompletedCheckpointId',
  'lastCheckpointRestoreTimestamp',
  'lastCheckpointExternalPath',
  'numberOfCompletedCheckpoints',
  'numberOfFailedCheckpoints',
  'numberOfInProgressCheckpoints',
  'totalNumberOfCheckpoints',
];
const IO_FIELDS = [
  'read-bytes',
  'read-bytes-complete',
  'write-bytes',
  'write-bytes-complete',
  'read-records',
  'read-records-complete',
  'write-records',
  'write-records-complete',
  'accumulated-backpressured-time',
  'accumulated-idle-time',
  'accumulated-busy-time',
];
const EXECUTION_STATES = ['CREATED', 'SCHEDULED', 'DEPLOYING', 'RUNNING', 'FINISHED', 'CANCELING', 'CANCELED', 'FAILED', 'RECONCILING', 'INITIALIZING'];

before(async () => {
  cluster = await startTestCluster({ slots: 3, config: (root) => ({ 'state.checkpoints.dir': join(root, 'checkpoints') }) });
  client = cluster.client;
});

after(() => cluster.close());

test('a running job: job, vertex, subtask, aggregated, JobManager and TaskManager metrics with Flink ids and string values', async () => {
  const id = await client.submitJob({ jobModule: jobFixture('cluster-unbounded'), parallelism: 2 });
  try {
    const job = await client.jobDetails(id);
    const source = job.vertices.find((v) => v.name === 'ticks')!;
    const keyed = job.vertices.find((v) => v.name.startsWith('count per key'))!;
    assert.ok(source && keyed);

    // The job's metrics: the ids without get; values as strings with it, unknown ids left out.
    const ids = (await client.jobMetrics(id)).map((e) => e.id);
    for (const name of JOB_METRICS) assert.ok(ids.includes(name), `${name} in ${ids.join(', ')}`);
    assert.ok((await client.jobMetrics(id)).every((e) => e.value === undefined), 'without get, ids only');
    const jm = await until('a completed checkpoint in the job metrics', async () => {
      const v = values(await client.jobMetrics(id, [...JOB_METRICS, 'noSuchMetric']));
      return Number(v.get('numberOfCompletedCheckpoints')) > 0 ? v : undefined;
    });
    assert.equal(jm.has('noSuchMetric'), false);
    assert.ok([...jm.values()].every((x) => typeof x === 'string'));
    assert.ok(Number(jm.get('uptime')) > 0);
    assert.equal(jm.get('numRestarts'), '0');
    assert.ok(Number(jm.get('lastCompletedCheckpointId')) >= 1);
    assert.ok(Number(jm.get('lastCheckpointSize')) > 0, 'the keyed counts are state');
    assert.equal(jm.get('lastCheckpointSize'), jm.get('lastCheckpointFullSize'));
    assert.match(jm.get('lastCheckpointExternalPath')!, /chk-\d+$/);
    assert.equal(jm.get('lastCheckpointRestoreTimestamp'), '-1', 'never restored');
    assert.ok(Number(jm.get('totalNumberOfCheckpoints')) >= Number(jm.get('numberOfCompletedCheckpoints')));
    assert.deepEqual((await get(`/jobs/${id}/metrics?get=uptime`)).body.map((e: MetricEntry) => e.id), ['uptime'], 'the raw answer');

    // A vertex's metrics: `<subtask>.<metric>` and `<subtask>.<operator>.<metric>`, once every subtask reported.
    const vIds = await until('the subtasks to report', async () => {
      const got = (await client.vertexMetrics(id, source.id)).map((e) => e.id);
      return got.includes('0.numRecordsOut') && got.includes('1.numRecordsOut') ? got : undefined;
    });
    for (const m of ['0.numRecordsOut', '1.numRecordsOut', '0.ticks.numRecordsOut', '0.busyTimeMsPerSecond', '0.numBytesOut', '0.currentOutputWatermark', '0.checkpointStartDelayNanos']) {
      assert.ok(vIds.includes(m), `${m} in the source vertex's ids`);
    }
    const v = values(await client.vertexMetrics(id, source.id, ['0.numRecordsOut', '0.ticks.numRecordsOut', '0.numRecordsOutPerSecond']));
    assert.ok(Number(v.get('0.numRecordsOut')) > 0);
    assert.ok(Number(v.get('0.ticks.numRecordsOut')) > 0);
    assert.ok(Number(v.get('0.numRecordsOutPerSecond')) >= 0);

    // Aggregated over subtasks: numbers, the aggregates asked for.
    const all = (await client.subtasksMetrics(id, keyed.id)).map((e) => e.id);
    assert.ok(all.includes('numRecordsIn') && all.includes('count per key.numRecordsIn'), all.join(', '));
    const agg = (await client.subtasksMetrics(id, keyed.id, { get: ['numRecordsIn', 'numBytesIn', 'nope'] })) as AggregatedMetric[];
    assert.deepEqual(agg.map((a) => a.id), ['numRecordsIn', 'numBytesIn']);
    for (const a of agg) {
      assert.deepEqual(Object.keys(a), ['id', 'min', 'max', 'avg', 'sum']);
      assert.ok(a.min! <= a.avg! && a.avg! <= a.max! && a.max! <= a.sum!, JSON.stringify(a));
    }
    const records = agg.find((a) => a.id === 'numRecordsIn')!;
    assert.ok(records.sum! > 0);
    const some = (await client.subtasksMetrics(id, keyed.id, { get: ['numRecordsIn'], agg: ['sum', 'max'], subtasks: '1' })) as AggregatedMetric[];
    assert.deepEqual(Object.keys(some[0]!), ['id', 'sum', 'max']);
    assert.equal(some[0]!.sum, some[0]!.max, 'one subtask: its sum is its value');
    const badAgg = await get(`/jobs/${id}/vertices/${keyed.id}/subtasks/metrics?get=numRecordsIn&agg=median`);
    assert.equal(badAgg.status, 400);
    assert.match(badAgg.body.errors[0], /unknown aggregation "median" in query parameter agg/);
    assert.equal((await get(`/jobs/${id}/vertices/${keyed.id}/subtasks/metrics?subtasks=a-b`)).status, 400);

    // One subtask's metrics, without the subtask prefix.
    const one = values(await client.subtaskMetrics(id, keyed.id, 1, ['numRecordsIn', 'idleTimeMsPerSecond']));
    assert.ok(Number(one.get('numRecordsIn')) >= 0 && one.has('idleTimeMsPerSecond'));
    assert.equal((await get(`/jobs/${id}/vertices/${keyed.id}/subtasks/2/metrics`)).status, 404);
    assert.equal((await get(`/jobs/${id}/vertices/${keyed.id}/subtasks/x/metrics`)).status, 400);

    // Watermarks: this job has none, so Flink's Long.MIN_VALUE, written exactly.
    assert.deepEqual(await client.vertexWatermarks(id, keyed.id), [
      { id: '0.currentInputWatermark', value: '-9223372036854775808' },
      { id: '1.currentInputWatermark', value: '-9223372036854775808' },
    ]);

    // Subtask times.
    const times = await client.subtaskTimes(id, keyed.id);
    assert.equal(times.id, keyed.id);
    assert.equal(times.name, keyed.name);
    assert.ok(Number.isInteger(times.now));
    assert.deepEqual(times.subtasks.map((s) => s.subtask), [0, 1]);
    for (const s of times.subtasks) {
      assert.deepEqual(Object.keys(s.timestamps).sort(), [...EXECUTION_STATES].sort());
      assert.ok(s.timestamps.RUNNING >= s.timestamps.CREATED && s.timestamps.CREATED > 0);
      assert.equal(s.timestamps.FINISHED, 0);
      assert.ok(Number.isInteger(s.duration) && s.duration >= 0);
    }

    // GET /jobs/:jobid: each vertex's I/O figures, summed over its subtasks.
    const details = await until('bytes between the worker threads', async () => {
      const d = await client.jobDetails(id);
      return d.vertices.every((x) => x.metrics['read-records-complete']) && d.vertices.find((x) => x.id === keyed.id)!.metrics['read-bytes'] > 0 ? d : undefined;
    });
    for (const vertex of details.vertices) assert.deepEqual(Object.keys(vertex.metrics), IO_FIELDS);
    const src = details.vertices.find((x) => x.id === source.id)!.metrics;
    const dst = details.vertices.find((x) => x.id === keyed.id)!.metrics;
    assert.ok(src['write-records'] > 0 && src['write-bytes'] > 0);
    assert.equal(src['read-records'], 0, 'a source reads no channel');
    assert.ok(dst['read-records'] > 0);
    assert.ok(dst['accumulated-idle-time'] > 0 && Number.isInteger(dst['accumulated-busy-time']));

    // Checkpoint statistics: percentiles in the summary, savepointFormat in each entry.
    const cps = await client.checkpoints(id);
    for (const k of ['checkpointed_size', 'state_size', 'end_to_end_duration', 'alignment_buffered', 'processed_data', 'persisted_data'] as const) {
      assert.deepEqual(Object.keys(cps.summary[k]), ['min', 'max', 'avg', 'p50', 'p90', 'p95', 'p99', 'p999']);
    }
    assert.ok(cps.summary.state_size.p50 > 0 && cps.summary.state_size.p50 <= cps.summary.state_size.max);
    const completed = cps.latest.completed!;
    assert.equal(completed.savepointFormat, null);
    assert.equal(completed.discarded, false);
    const sub = await client.checkpointSubtasks(id, completed.id, keyed.id);
    assert.deepEqual(Object.keys(sub.summary.alignment.duration), ['min', 'max', 'avg', 'p50', 'p90', 'p95', 'p99', 'p999']);
    assert.deepEqual(Object.keys(sub.summary.checkpoint_duration.async), ['min', 'max', 'avg', 'p50', 'p90', 'p95', 'p99', 'p999']);

    // The JobManager's and the TaskManager's process figures.
    const jmIds = (await client.jobManagerMetrics()).map((e) => e.id);
    assert.ok(jmIds.includes('Status.Node.Memory.Heap.Used') && jmIds.includes('Status.Node.EventLoop.Delay.P99'), jmIds.join(', '));
    const heap = values(await client.jobManagerMetrics(['Status.Node.Memory.Heap.Used', 'Status.Node.Memory.RSS']));
    assert.ok(Number(heap.get('Status.Node.Memory.Heap.Used')) > 0 && Number(heap.get('Status.Node.Memory.RSS')) > 0);
    const tm = (await client.taskManagers()).taskmanagers[0]!.id;
    assert.ok(Number(values(await client.taskManagerMetrics(tm, ['Status.Node.GarbageCollector.All.Time'])).get('Status.Node.GarbageCollector.All.Time')) >= 0);
    assert.equal((await get('/taskmanagers/nope/metrics')).status, 404);
    assert.match(await client.prometheusMetrics(), /^weir_jobmanager_job_uptime\{/m);
  } finally {
    await client.cancelJob(id);
  }
});

test('watermarks: a vertex fed event time reports each subtask\'s input watermark; the source task its output watermark', async () => {
  const source = readFileSync(fileURLToPath(new URL('../metrics/jobs/event-time-ticks.ts', import.meta.url)), 'utf8');
  const id = await client.submitJob({ jobModule: { fileName: 'event-time-ticks.ts', source }, parallelism: 1 });
  try {
    const job = await client.jobDetails(id);
    const sourceVertex = job.vertices.find((v) => v.name.startsWith('ticks'))!;
    const keyed = job.vertices.find((v) => v.name.startsWith('keyed map'))!;
    const first = await until('an input watermark', async () => {
      const [w] = await client.vertexWatermarks(id, keyed.id);
      return w !== undefined && Number(w.value) >= 1000 ? Number(w.value) : undefined;
    });
    const later = await until('a later input watermark', async () => {
      const [w] = await client.vertexWatermarks(id, keyed.id);
      return Number(w!.value) > first ? Number(w!.value) : undefined;
    });
    assert.ok(later > first);
    const out = values(await client.vertexMetrics(id, sourceVertex.id, ['0.currentOutputWatermark', '0.timestamps.currentOutputWatermark', '0.currentInputWatermark']));
    assert.ok(Number(out.get('0.currentOutputWatermark')) >= 1000, `the source task sent watermarks: ${JSON.stringify([...out])}`);
    assert.equal(out.get('0.timestamps.currentOutputWatermark'), out.get('0.currentOutputWatermark'), 'on the operator whose output leaves the task');
    assert.equal(out.get('0.currentInputWatermark'), '-9223372036854775808', 'a source task reads no channel');
  } finally {
    await client.cancelJob(id);
  }
});

test('while a job restarts, every job and vertex route answers 200 with sane bodies', async () => {
  const source = readFileSync(fileURLToPath(new URL('../metrics/jobs/flaky-map.ts', import.meta.url)), 'utf8');
  const id = await client.submitJob({ jobModule: { fileName: 'flaky-map.ts', source }, parallelism: 1 });
  try {
    const vertex = (await client.jobDetails(id)).vertices[0]!;
    const paths = [
      `/jobs/${id}`,
      `/jobs/${id}/metrics?get=uptime,numRestarts`,
      `/jobs/${id}/checkpoints`,
      `/jobs/${id}/exceptions`,
      `/jobs/${id}/config`,
      `/jobs/${id}/vertices/${vertex.id}`,
      `/jobs/${id}/vertices/${vertex.id}/backpressure`,
      `/jobs/${id}/vertices/${vertex.id}/metrics`,
      `/jobs/${id}/vertices/${vertex.id}/subtasks/metrics?get=numRecordsOut`,
      `/jobs/${id}/vertices/${vertex.id}/watermarks`,
      `/jobs/${id}/vertices/${vertex.id}/subtasktimes`,
      '/jobs/overview',
      '/overview',
    ];
    let seen = 0;
    for (let restart = 1; restart <= 2; restart++) {
      // RESTARTING before restart `restart` is done: the restarts so far are one fewer.
      await until(`restart ${restart}`, async () => {
        const restarts = values(await client.jobMetrics(id, ['numRestarts'])).get('numRestarts');
        return (await client.jobDetails(id)).state === 'RESTARTING' && restarts === String(restart - 1) ? true : undefined;
      });
      const answers = await Promise.all(paths.map((p) => get(p)));
      const status = (await client.jobDetails(id)).state;
      for (const [i, a] of answers.entries()) assert.equal(a.status, 200, `${paths[i]} during RESTARTING: ${JSON.stringify(a.body)}`);
      const [details, metrics] = answers;
      assert.equal(details!.body.jid, id);
      assert.ok(['RESTARTING', 'RUNNING'].includes(details!.body.state), details!.body.state);
      assert.deepEqual(Object.keys(details!.body.vertices[0].metrics), IO_FIELDS);
      const m = values(metrics!.body);
      assert.equal(m.get('uptime'), details!.body.state === 'RESTARTING' ? '0' : m.get('uptime'), 'not running: uptime 0, as Flink');
      assert.ok(Number(m.get('numRestarts')) >= restart - 1);
      assert.ok(Array.isArray(answers[7]!.body));
      // Each attempt ran for over a second before failing, so its subtask reported (every second).
      if (restart === 2) assert.ok(answers[7]!.body.some((e: MetricEntry) => e.id === '0.numRecordsOut'), 'the latest reports stay while the job restarts');
      if (status === 'RESTARTING') seen++;
    }
    assert.ok(seen > 0, 'the answers came while the job was restarting');
    const after = await until('the third attempt to run', async () => {
      const m = values(await client.jobMetrics(id, ['numRestarts', 'uptime']));
      return m.get('numRestarts') === '2' && Number(m.get('uptime')) > 0 ? m : undefined;
    });
    assert.equal(after.get('numRestarts'), '2');
    const cps = await client.checkpoints(id);
    const restoredAt = values(await client.jobMetrics(id, ['lastCheckpointRestoreTimestamp'])).get('lastCheckpointRestoreTimestamp');
    if (cps.counts.restored > 0) assert.equal(Number(restoredAt), cps.latest.restored!.restore_timestamp);
    else assert.equal(restoredAt, '-1');
  } finally {
    await client.cancelJob(id);
  }
});
