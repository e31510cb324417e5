/**
 * The REST API over real HTTP on 127.0.0.1: every route with Flink's field names, the error
 * statuses and bodies, and the typed client with its waiting helpers. Jobs are the cluster-*
 * fixtures, posted as their source, running on worker threads of this process.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from '../../src/cluster/dispatcher.ts';
import { NoClusterError, OperationFailedError, RestClient, RestError } from '../../src/rest/rest-client.ts';
import { startRestServer } from '../../src/rest/rest-server.ts';
import { jobFixture as fixture, startTestCluster, type TestCluster } from '../support/rest-cluster.ts';
import type {
  CheckpointingStatistics,
  CheckpointStatistics,
  JobDetailsInfo,
  JobExceptionsInfo,
  MultipleJobsDetails,
  SavepointInfo,
  TaskCheckpointStatisticsWithSubtaskDetails,
} from '../../src/rest/rest-types.ts';


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEX32 = /^[0-9a-f]{32}$/;

let root: string;
let dispatcher: Dispatcher;
let base: string;
let client: RestClient;

/** One request over HTTP; the body parsed as JSON. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read answers of every route through this one helper
async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: any; headers: Headers }> {
  const init: RequestInit = { method };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) init.body = JSON.stringify(body);
  if (init.body !== undefined) init.headers = { 'content-type': 'application/json' };
  const res = await fetch(base + path, init);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${method} ${path} answers JSON`);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** Asserts a Flink-shaped error: the status and one message matching `pattern`. */
async function expectError(method: string, path: string, status: number, pattern: RegExp, body?: unknown, raw?: string): Promise<void> {
  const r = await call(method, path, body, raw);
  assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
  assert.deepEqual(Object.keys(r.body), ['errors']);
  assert.equal(r.body.errors.length, 1);
  assert.match(r.body.errors[0], pattern);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const pathOf = (location: string): string => (location.startsWith('file:') ? fileURLToPath(location) : location);

let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster({ slots: 4, config: (root) => ({ 'state.checkpoints.dir': join(root, 'checkpoints'), 'state.savepoints.dir': join(root, 'savepoints') }) });
  ({ root, dispatcher, base, client } = cluster);
});

after(() => cluster.close());

test('GET /config describes the cluster; unknown routes, wrong methods and bad bodies are Flink-shaped errors', async () => {
  const config = await call('GET', '/config');
  assert.equal(config.status, 200);
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(config.body['weir-version'], pkg.version);
  assert.match(config.body['weir-revision'], /^([0-9a-f]{40}|unknown)$/);
  assert.equal(typeof config.body['refresh-interval'], 'number');
  assert.equal(typeof config.body['timezone-name'], 'string');
  assert.equal(typeof config.body['timezone-offset'], 'number');
  assert.deepEqual(Object.keys(config.body.features).sort(), ['web-cancel', 'web-history', 'web-rescale', 'web-submit']);
  assert.deepEqual(await client.config(), config.body);
  assert.equal((await call('GET', '/v1/config')).status, 200, "Flink's /v1 prefix");

  await expectError('GET', '/nope', 404, /^Not found: \/nope$/);
  await expectError('GET', '/jobs/x/y/z', 404, /Not found/);
  const wrong = await call('DELETE', '/jobs');
  assert.equal(wrong.status, 405);
  assert.match(wrong.body.errors[0], /DELETE is not allowed on \/jobs \(allowed: GET, POST\)/);
  assert.equal(wrong.headers.get('allow'), 'GET, POST');
  await expectError('GET', '/jobs/0123/stop', 405, /GET is not allowed on \/jobs\/:jobid\/stop/);

  await expectError('POST', '/jobs', 400, /^request body is not valid JSON: Unexpected end of JSON input \(line 2, column 14\)$/, undefined, '{\n"jobModule": ');
  await expectError('POST', '/jobs', 400, /^request body is not valid JSON: .* position 1 \(line 1, column 2\)$/, undefined, '{jobModule: 1}');
  await expectError('POST', '/jobs', 400, /must be a job submission/);
  await expectError('POST', '/jobs', 400, /a job submission must be an object/, [1, 2]);
  await expectError('POST', '/jobs', 400, /"jobModule" must be an object/, { programArgs: [] });
  await expectError('POST', '/jobs', 400, /"jobModule.source" must be a string/, { jobModule: { fileName: 'a.ts', source: 7 } });
  await expectError('POST', '/jobs', 400, /unknown field "jarId"/, { jobModule: fixture('cluster-bounded'), jarId: 'x' });
  await expectError('POST', '/jobs', 400, /"config": unknown configuration key "no.such.key"/, { jobModule: fixture('cluster-bounded'), config: { 'no.such.key': 'x' } });
  await expectError('POST', '/jobs', 400, /throws\.mjs: refused at import/, { jobModule: { fileName: 'throws.mjs', source: "throw new Error('refused at import');" } });
  await expectError('POST', '/jobs', 400, /did not call env\.execute\(\)/, { jobModule: { fileName: 'idle.mjs', source: 'export {};' } });
  await expectError('POST', '/jobs', 409, /^job needs 5 slots but the cluster has 4 free \(4 in all\)$/, { jobModule: fixture('cluster-bounded'), parallelism: 5 });
  assert.deepEqual((await call('GET', '/jobs')).body, { jobs: [] }, 'refused submissions leave no job');
});

test('unknown jobs, triggers and checkpoints are 404 on every job route', async () => {
  const nobody = 'f'.repeat(32);
  const notFound = new RegExp(`^unknown job ${nobody}$`);
  await expectError('GET', `/jobs/${nobody}`, 404, notFound);
  await expectError('PATCH', `/jobs/${nobody}?mode=cancel`, 404, notFound);
  await expectError('POST', `/jobs/${nobody}/savepoints`, 404, notFound, {});
  await expectError('GET', `/jobs/${nobody}/savepoints/${nobody}`, 404, notFound);
  await expectError('POST', `/jobs/${nobody}/stop`, 404, notFound, { drain: false });
  await expectError('POST', `/jobs/${nobody}/checkpoints`, 404, notFound, {});
  await expectError('GET', `/jobs/${nobody}/checkpoints`, 404, notFound);
  await expectError('GET', `/jobs/${nobody}/checkpoints/config`, 404, notFound);
  await expectError('GET', `/jobs/${nobody}/checkpoints/${nobody}`, 404, notFound);
  await expectError('GET', `/jobs/${nobody}/checkpoints/details/1`, 404, notFound);
  await expectError('GET', `/jobs/${nobody}/checkpoints/details/1/subtasks/${nobody}`, 404, notFound);
  await expectError('GET', `/jobs/${nobody}/exceptions`, 404, notFound);
  await assert.rejects(client.jobDetails(nobody), (e: unknown) => e instanceof RestError && e.status === 404 && e.message === `unknown job ${nobody}`);
});

let job: string;
let vertices: JobDetailsInfo['vertices'];

test('POST /jobs runs a job module; GET /jobs, /jobs/overview and /jobs/:jobid describe it', async () => {
  // The min pause (from the submission's config) spaces the periodic checkpoints, so the ones
  // triggered below stay in the statistics' history (the last 10) while the test reads them.
  const submitted = await call('POST', '/jobs', {
    jobModule: fixture('cluster-unbounded'),
    parallelism: 2,
    programArgs: ['rest job'],
    config: { 'execution.checkpointing.min-pause': '2 s' },
  });
  assert.equal(submitted.status, 202);
  job = submitted.body.jobid;
  assert.match(job, HEX32);
  assert.deepEqual(submitted.body, { jobid: job, jobUrl: `/jobs/${job}` });

  assert.deepEqual((await call('GET', '/jobs')).body, { jobs: [{ id: job, status: 'RUNNING' }] });
  assert.deepEqual(await client.jobs(), { jobs: [{ id: job, status: 'RUNNING' }] });

  const overview = (await call('GET', '/jobs/overview')).body as MultipleJobsDetails;
  assert.equal(overview.jobs.length, 1);
  const o = overview.jobs[0]!;
  assert.equal(o.jid, job);
  assert.equal(o.name, 'rest job');
  assert.equal(o.state, 'RUNNING');
  assert.equal(o['end-time'], -1);
  assert.ok(o.duration >= 0 && o['last-modification'] >= o['start-time']);
  assert.deepEqual(o.tasks, { total: 2, created: 0, scheduled: 0, deploying: 0, running: 2, finished: 0, canceling: 0, canceled: 0, failed: 0, reconciling: 0, initializing: 0 });
  assert.deepEqual((await client.jobsOverview()).jobs.map((j) => j.jid), [job]);

  const d = (await call('GET', `/jobs/${job}`)).body as JobDetailsInfo;
  assert.equal(d.jid, job);
  assert.equal(d.name, 'rest job');
  assert.equal(d.state, 'RUNNING');
  assert.equal(d.isStoppable, true);
  assert.equal(d['end-time'], -1);
  assert.ok(d.now >= d['start-time']);
  assert.equal(d.timestamps.INITIALIZING, d['start-time']);
  assert.ok(d.timestamps.RUNNING >= d['start-time']);
  assert.equal(d.timestamps.FINISHED, 0, 'statuses not reached are 0');
  assert.equal(d.vertices.length, 2);
  for (const v of d.vertices) {
    assert.match(v.id, HEX32);
    assert.equal(v.parallelism, 2);
    assert.equal(v.maxParallelism, 128);
    assert.equal(v.status, 'RUNNING');
    assert.equal(v.tasks.RUNNING, 2);
    assert.equal(v['start-time'], d.timestamps.RUNNING);
  }
  assert.deepEqual(
    d.vertices.map((v) => v.name),
    ['ticks', 'count per key -> discard'],
  );
  assert.equal(d['status-counts'].RUNNING, 2);
  assert.deepEqual(d.plan.nodes[1]!.inputs, [{ num: 0, id: d.vertices[0]!.id, ship_strategy: 'HASH', exchange: 'pipelined_bounded' }]);
  vertices = d.vertices;
  // Stable: the same vertex ids for the same graph.
  assert.deepEqual(
    (await client.jobDetails(job)).vertices.map((v) => v.id),
    vertices.map((v) => v.id),
  );
});

test('checkpoints: trigger, status, statistics, configuration, details and subtasks of a real checkpoint', async () => {
  await expectError('POST', `/jobs/${job}/checkpoints`, 400, /"checkpointType" .* must be one of CONFIGURED, FULL, INCREMENTAL/, { checkpointType: 'SOMETIMES' });
  await expectError('GET', `/jobs/${job}/checkpoints/${'0'.repeat(32)}`, 404, /unknown checkpoint trigger/);

  const triggered = await call('POST', `/jobs/${job}/checkpoints`, { checkpointType: 'FULL' });
  assert.equal(triggered.status, 202);
  const trigger = triggered.body['request-id'] as string;
  assert.match(trigger, HEX32);
  const done = await until('the checkpoint', async () => {
    const r = await call('GET', `/jobs/${job}/checkpoints/${trigger}`);
    assert.equal(r.status, 200);
    return r.body.status.id === 'COMPLETED' ? r.body : undefined;
  });
  const checkpointId = done.operation.checkpointId as number;
  assert.ok(Number.isInteger(checkpointId) && checkpointId >= 1);
  assert.deepEqual(done, { status: { id: 'COMPLETED' }, operation: { checkpointId } });
  assert.ok((await client.awaitCheckpoint(job, await client.triggerCheckpoint(job))) > checkpointId, 'the client triggers and waits');

  const stats = (await call('GET', `/jobs/${job}/checkpoints`)).body as CheckpointingStatistics;
  assert.ok(stats.counts.completed >= 2 && stats.counts.total >= stats.counts.completed);
  assert.equal(stats.latest.restored, null);
  assert.equal(stats.latest.completed?.status, 'COMPLETED');
  assert.ok(stats.summary.end_to_end_duration.max >= stats.summary.end_to_end_duration.min);
  const entry = stats.history.find((e) => e.id === checkpointId);
  assert.ok(entry, `checkpoint ${checkpointId} is in the history`);
  assert.equal(entry.className, '.CompletedCheckpointStatistics');
  assert.equal(entry.checkpoint_type, 'CHECKPOINT');
  assert.equal(entry.num_subtasks, 4);
  assert.equal(entry.num_acknowledged_subtasks, 4);
  assert.ok(entry.state_size > 0, 'the keyed counts take space');
  assert.match(entry.external_path!, new RegExp(`chk-${checkpointId}$`));
  assert.deepEqual(entry.tasks, {});
  assert.ok((await client.checkpoints(job)).counts.completed >= stats.counts.completed);

  const config = (await call('GET', `/jobs/${job}/checkpoints/config`)).body;
  assert.deepEqual(config, {
    mode: 'exactly_once',
    interval: 100,
    timeout: 600_000,
    min_pause: 2000,
    max_concurrent: 1,
    externalization: { enabled: false, delete_on_cancellation: true },
    state_backend: 'HashMapStateBackend',
    checkpoint_storage: 'FileSystemCheckpointStorage',
    unaligned_checkpoints: false,
    tolerable_failed_checkpoints: 0,
    aligned_checkpoint_timeout: 0,
    checkpoints_after_tasks_finish: true,
    state_changelog_enabled: false,
  });
  assert.deepEqual(await client.checkpointConfig(job), config);

  const details = (await call('GET', `/jobs/${job}/checkpoints/details/${checkpointId}`)).body as CheckpointStatistics;
  assert.equal(details.id, checkpointId);
  assert.equal(details.status, 'COMPLETED');
  assert.deepEqual(Object.keys(details.tasks).sort(), vertices.map((v) => v.id).sort());
  const counting = vertices[1]!;
  const task = details.tasks[counting.id]!;
  assert.equal(task.id, checkpointId);
  assert.equal(task.status, 'COMPLETED');
  assert.equal(task.num_subtasks, 2);
  assert.equal(task.num_acknowledged_subtasks, 2);
  assert.ok(task.state_size > 0);
  assert.ok(task.latest_ack_timestamp >= details.trigger_timestamp);
  assert.equal(task.end_to_end_duration, task.latest_ack_timestamp - details.trigger_timestamp);
  assert.equal(
    Object.values(details.tasks).reduce((n, t) => n + t.state_size, 0),
    details.state_size,
    'the vertices add up to the checkpoint',
  );
  assert.deepEqual(await client.checkpointDetails(job, checkpointId), { ...details });

  const sub = (await call('GET', `/jobs/${job}/checkpoints/details/${checkpointId}/subtasks/${counting.id}`)).body as TaskCheckpointStatisticsWithSubtaskDetails;
  assert.equal(sub.id, checkpointId);
  assert.equal(sub.subtasks.length, 2);
  assert.deepEqual(
    sub.subtasks.map((s) => [s.index, s.status]),
    [
      [0, 'completed'],
      [1, 'completed'],
    ],
  );
  for (const s of sub.subtasks) {
    assert.ok(s.status === 'completed');
    assert.ok(s.ack_timestamp >= details.trigger_timestamp);
    assert.equal(s.end_to_end_duration, s.ack_timestamp - details.trigger_timestamp);
    assert.ok(s.state_size > 0);
    assert.equal(typeof s.checkpoint.sync, 'number');
    assert.equal(typeof s.checkpoint.async, 'number');
    assert.deepEqual(Object.keys(s.alignment).sort(), ['buffered', 'duration', 'persisted', 'processed']);
    assert.equal(typeof s.start_delay, 'number');
    assert.equal(s.unaligned_checkpoint, false);
  }
  assert.equal(sub.summary.state_size.min, Math.min(...sub.subtasks.map((s) => (s.status === 'completed' ? s.state_size : Infinity))));
  assert.deepEqual(await client.checkpointSubtasks(job, checkpointId, counting.id), sub);

  await expectError('GET', `/jobs/${job}/checkpoints/details/999999`, 404, /checkpoint 999999 of job .* is not in its checkpoint statistics/);
  await expectError('GET', `/jobs/${job}/checkpoints/details/latest`, 400, /checkpoint id must be a non-negative integer, got "latest"/);
  await expectError('GET', `/jobs/${job}/checkpoints/details/${checkpointId}/subtasks/${'a'.repeat(32)}`, 404, /unknown vertex a{32} of job/);
});

test('a running job has no exceptions', async () => {
  const x = (await call('GET', `/jobs/${job}/exceptions`)).body as JobExceptionsInfo;
  assert.deepEqual(x, { 'root-exception': null, timestamp: null, 'all-exceptions': [], truncated: false, exceptionHistory: { entries: [], truncated: false } });
});

test('a finished job: awaitJobEnd, 409 for savepoints, stop, checkpoints and cancel; no checkpointing means empty statistics', async () => {
  const id = await client.submitJob({ jobModule: fixture('cluster-bounded'), parallelism: 1 });
  const end = await client.awaitJobEnd(id, { pollMs: 50 });
  assert.equal(end.state, 'FINISHED');
  assert.equal(end.rootException, undefined);
  assert.equal(end.duration, end.endTime - end.startTime);
  const d = await client.jobDetails(id);
  assert.equal(d.state, 'FINISHED');
  assert.equal(d.isStoppable, false);
  assert.ok(d.timestamps.FINISHED >= d.timestamps.RUNNING);
  assert.ok(d.vertices.every((v) => v.status === 'FINISHED'));

  await expectError('POST', `/jobs/${id}/savepoints`, 409, /is FINISHED: a savepoint needs a running job/, {});
  await expectError('POST', `/jobs/${id}/stop`, 409, /is FINISHED/, { drain: true });
  await expectError('POST', `/jobs/${id}/checkpoints`, 409, /is FINISHED/, {});
  await expectError('PATCH', `/jobs/${id}?mode=cancel`, 409, /cannot be cancelled: it has already finished/);
  assert.deepEqual((await call('GET', `/jobs/${id}/checkpoints`)).body, {
    counts: { restored: 0, total: 0, in_progress: 0, completed: 0, failed: 0 },
    summary: Object.fromEntries(
      ['checkpointed_size', 'state_size', 'end_to_end_duration', 'alignment_buffered', 'processed_data', 'persisted_data'].map((k) => [
        k,
        { min: 0, max: 0, avg: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 },
      ]),
    ),
    latest: { completed: null, savepoint: null, failed: null, restored: null },
    history: [],
  });
  await expectError('GET', `/jobs/${id}/checkpoints/config`, 404, /checkpointing is not enabled for job/);
});

test('a failed job: GET /jobs/:jobid/exceptions has the root exception with its causes', async () => {
  const id = await client.submitJob({ jobModule: fixture('cluster-failing'), parallelism: 1 });
  const end = await client.awaitJobEnd(id, { pollMs: 50 });
  assert.equal(end.state, 'FAILED');
  assert.match(end.rootException!, /^Job "cluster failing" \(\w+\) failed: .*record 42 is not welcome$/);
  const x = (await call('GET', `/jobs/${id}/exceptions`)).body as JobExceptionsInfo;
  assert.match(x['root-exception']!, /^JobExecutionError: Job "cluster failing"/);
  assert.match(x['root-exception']!, /\nCaused by: RecordRejected: record 42 is not welcome\n\s+at /);
  assert.equal(x.timestamp, end.endTime);
  assert.deepEqual(x['all-exceptions'], []);
  assert.equal(x.truncated, false);
  assert.equal(x.exceptionHistory.entries[0]?.exceptionName, 'JobExecutionError');
  assert.deepEqual(await client.jobExceptions(id), x);
  assert.equal((await client.jobDetails(id)).vertices[0]!.status, 'FAILED');
});

test('savepoints: POST /jobs/:jobid/savepoints and the trigger status, with and without cancel-job', async () => {
  const route = `/jobs/${job}/savepoints`;
  await expectError('POST', route, 400, /"target-directory" .* must be an absolute path or a URI, got "relative\/dir"/, { 'target-directory': 'relative/dir' });
  await expectError('POST', route, 400, /"cancel-job" .* must be true or false, got "yes"/, { 'cancel-job': 'yes' });
  await expectError('POST', route, 400, /unknown field "target"/, { target: '/tmp' });
  await expectError('POST', route, 400, /request body is not valid JSON/, undefined, '{');
  await expectError('GET', `${route}/${'0'.repeat(32)}`, 404, /unknown savepoint trigger 0{32} for job/);

  const target = join(root, 'sp-rest');
  const triggered = await call('POST', route, { 'target-directory': target, 'cancel-job': false });
  assert.equal(triggered.status, 202);
  const trigger = triggered.body['request-id'] as string;
  assert.match(trigger, HEX32);
  const first = (await call('GET', `${route}/${trigger}`)).body as SavepointInfo;
  assert.ok(['IN_PROGRESS', 'COMPLETED'].includes(first.status.id));
  const location = await client.awaitSavepoint(job, trigger);
  assert.ok(pathOf(location).startsWith(target));
  assert.ok(existsSync(join(pathOf(location), '_metadata')), 'the savepoint has its _metadata');
  assert.deepEqual((await call('GET', `${route}/${trigger}`)).body, { status: { id: 'COMPLETED' }, operation: { location } });
  await expectError('GET', `/jobs/${job}/checkpoints/${trigger}`, 404, /unknown checkpoint trigger/, undefined);
  assert.equal((await client.jobDetails(job)).state, 'RUNNING');
  const stats = await client.checkpoints(job);
  assert.equal(stats.latest.savepoint?.checkpoint_type, 'SAVEPOINT');
  assert.equal(stats.latest.savepoint?.className, '.CompletedCheckpointStatistics');

  // A savepoint that fails is COMPLETED with its failure cause.
  const blocked = join(root, 'not-a-directory');
  writeFileSync(blocked, 'a file where the savepoint directory would go');
  const failing = await client.triggerSavepoint(job, { targetDirectory: blocked });
  await assert.rejects(client.awaitSavepoint(job, failing), (e: unknown) => e instanceof OperationFailedError && e.failureCause['stack-trace'].length > 0);
  const failed = (await call('GET', `${route}/${failing}`)).body;
  assert.equal(failed.status.id, 'COMPLETED');
  assert.equal(typeof failed.operation['failure-cause'].class, 'string');
  assert.match(failed.operation['failure-cause']['stack-trace'], /\S/);

  const cancelling = await client.triggerSavepoint(job, { cancelJob: true });
  const cancelLocation = await client.awaitSavepoint(job, cancelling);
  assert.ok(existsSync(join(pathOf(cancelLocation), '_metadata')));
  assert.ok(pathOf(cancelLocation).startsWith(join(root, 'savepoints')), 'without a target directory, state.savepoints.dir');
  assert.equal((await client.jobDetails(job)).state, 'CANCELED');
  await expectError('POST', route, 409, /is CANCELED: a savepoint needs a running job/, {});
});

test('POST /jobs/:jobid/stop stops with a savepoint, with and without drain; status through the savepoints route', async () => {
  const a = await client.submitJob({ jobModule: fixture('cluster-unbounded'), parallelism: 1 });
  const b = await client.submitJob({ jobModule: fixture('cluster-unbounded'), parallelism: 1 });
  await expectError('POST', `/jobs/${a}/stop`, 400, /"drain" .* must be true or false/, { drain: 'yes' });
  await expectError('POST', `/jobs/${a}/stop`, 400, /"targetDirectory" .* must be an absolute path/, { targetDirectory: 'sp' });

  const stopped = await call('POST', `/jobs/${a}/stop`, { targetDirectory: join(root, 'stop-a'), drain: false });
  assert.equal(stopped.status, 202);
  const location = await client.awaitSavepoint(a, stopped.body['request-id']);
  assert.ok(existsSync(join(pathOf(location), '_metadata')));
  assert.equal((await client.awaitJobEnd(a, { pollMs: 50 })).state, 'FINISHED');

  const drained = await client.stopJob(b, { targetDirectory: join(root, 'stop-b'), drain: true });
  const drainedLocation = await client.awaitSavepoint(b, drained);
  assert.ok(pathOf(drainedLocation).startsWith(join(root, 'stop-b')));
  assert.ok(existsSync(join(pathOf(drainedLocation), '_metadata')));
  assert.equal((await client.awaitJobEnd(b, { pollMs: 50 })).state, 'FINISHED');
});

test('PATCH /jobs/:jobid?mode=cancel cancels; the client reports a missing cluster as NoClusterError', async () => {
  const id = await client.submitJob({ jobModule: fixture('cluster-unbounded'), parallelism: 1 });
  await expectError('PATCH', `/jobs/${id}?mode=stop`, 400, /query parameter "mode" must be "cancel"/);
  const cancelled = await call('PATCH', `/jobs/${id}?mode=cancel`);
  assert.equal(cancelled.status, 202);
  assert.deepEqual(cancelled.body, {});
  const end = await client.awaitJobEnd(id);
  assert.equal(end.state, 'CANCELED');
  assert.ok((await client.jobDetails(id)).vertices.every((v) => v.status === 'CANCELED'));
  await client.cancelJob(id); // again: a cancelled job stays cancelled
  await expectError('POST', `/jobs/${id}/checkpoints`, 409, /is CANCELED/, {});
  assert.deepEqual(
    (await client.jobs()).jobs.filter((j) => j.status === 'RUNNING'),
    [],
    'every job of this file has ended',
  );

  // A port nothing listens on: a server started and closed again.
  const gone = await startRestServer(dispatcher, { port: 0 });
  await gone.close();
  const nowhere = new RestClient(`127.0.0.1:${gone.port}`);
  assert.equal(nowhere.address, `http://127.0.0.1:${gone.port}`);
  await assert.rejects(nowhere.jobs(), (e: unknown) => e instanceof NoClusterError && e.message === `no weir cluster at http://127.0.0.1:${gone.port} (ECONNREFUSED)`);
});
