/**
 * The cluster-wide and per-vertex routes of the REST API over real HTTP on 127.0.0.1, with
 * Flink's field names and shapes: /overview, /jobmanager/config, /jobs/:jobid/config. Jobs are
 * the cluster-* fixtures, posted as their source, running on worker threads of this process.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { JobSubmission } from '../../src/cluster/dispatcher.ts';
import { RestClient } from '../../src/rest/rest-client.ts';
import { jobFixture as fixture, startTestCluster, type TestCluster } from '../support/rest-cluster.ts';

const SLOTS = 3;


let root: string;
let base: string;
let client: RestClient;

/** GET over HTTP; the status and the body parsed as JSON. */
// biome-ignore lint/suspicious/noExplicitAny: the tests read answers of every route through this one helper
async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `GET ${path} answers JSON`);
  return { status: res.status, body: await res.json() };
}

let cluster: TestCluster;

before(async () => {
  cluster = await startTestCluster({ slots: SLOTS, config: (root) => ({ 'state.checkpoints.dir': join(root, 'checkpoints') }) });
  ({ root, base, client } = cluster);
});

after(() => cluster.close());

test('GET /overview counts slots and jobs by status, with the version and commit', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const empty = await get('/overview');
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body, {
    taskmanagers: 1,
    'slots-total': SLOTS,
    'slots-available': SLOTS,
    'taskmanagers-blocked': 0,
    'slots-free-and-blocked': 0,
    'jobs-running': 0,
    'jobs-finished': 0,
    'jobs-cancelled': 0,
    'jobs-failed': 0,
    'flink-version': pkg.version,
    'flink-commit': empty.body['flink-commit'],
  });
  assert.match(empty.body['flink-commit'], /^([0-9a-f]{40}|unknown)$/);
  assert.equal((await get('/v1/overview')).body['slots-total'], SLOTS, 'with the /v1 prefix too');

  const finished = await client.submitJob({ jobModule: fixture('cluster-bounded'), parallelism: 1 });
  assert.equal((await client.awaitJobEnd(finished, { pollMs: 50 })).state, 'FINISHED');
  const failed = await client.submitJob({ jobModule: fixture('cluster-failing'), parallelism: 1 });
  assert.equal((await client.awaitJobEnd(failed, { pollMs: 50 })).state, 'FAILED');
  const running = await client.submitJob({ jobModule: fixture('cluster-unbounded'), parallelism: 1 });

  const during = (await get('/overview')).body;
  assert.equal(during['jobs-running'], 1);
  assert.equal(during['jobs-finished'], 1);
  assert.equal(during['jobs-failed'], 1);
  assert.equal(during['jobs-cancelled'], 0);
  assert.equal(during['slots-total'], SLOTS);
  assert.equal(during['slots-available'], SLOTS - 1, 'the running job holds one slot');

  await client.cancelJob(running);
  assert.equal((await client.awaitJobEnd(running, { pollMs: 50 })).state, 'CANCELED');
  const afterwards = (await get('/overview')).body;
  assert.equal(afterwards['jobs-running'], 0);
  assert.equal(afterwards['jobs-cancelled'], 1);
  assert.equal(afterwards['slots-available'], SLOTS);
});

test('GET /jobmanager/config lists the cluster configuration as sorted {key, value} strings', async () => {
  const r = await get('/jobmanager/config');
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body));
  for (const entry of r.body) {
    assert.deepEqual(Object.keys(entry), ['key', 'value']);
    assert.equal(typeof entry.value, 'string');
  }
  const keys = r.body.map((e: { key: string }) => e.key);
  assert.deepEqual(keys, [...keys].sort());
  assert.deepEqual(r.body, [
    { key: 'state.checkpoints.dir', value: join(root, 'checkpoints') },
    { key: 'taskmanager.numberOfTaskSlots', value: String(SLOTS) },
  ]);
});

test("GET /jobs/:jobid/config is Flink's JobConfigInfo of the job; an unknown job is a 404", async () => {
  const id = await client.submitJob({ jobModule: fixture('cluster-unbounded'), parallelism: 2, programArgs: ['configured job'] });
  try {
    const r = await get(`/jobs/${id}/config`);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ['jid', 'name', 'execution-config']);
    assert.equal(r.body.jid, id);
    assert.equal(r.body.name, 'configured job');
    const ec = r.body['execution-config'];
    assert.equal(ec['execution-mode'], 'PIPELINED');
    assert.equal(ec['job-parallelism'], 2);
    assert.ok(Number.isInteger(ec['job-parallelism']));
    assert.equal(ec['object-reuse-mode'], false);
    assert.deepEqual(ec['user-config'], {});
    // The fixture enables checkpointing and sets no strategy: Flink's default is exponential delay.
    assert.match(ec['restart-strategy'], /^Restart with exponential delay: starting at \d+ ms/);
  } finally {
    await client.cancelJob(id);
  }
  const unknown = await get('/jobs/00000000000000000000000000000000/config');
  assert.equal(unknown.status, 404);
  assert.deepEqual(Object.keys(unknown.body), ['errors']);
});

test('GET /taskmanagers and /taskmanagers/:taskmanagerid describe the one TaskManager with its slots; an unknown id is a 404', async () => {
  const id = await client.submitJob({ jobModule: fixture('cluster-unbounded'), parallelism: 2 });
  try {
    const list = await get('/taskmanagers');
    assert.equal(list.status, 200);
    assert.deepEqual(Object.keys(list.body), ['taskmanagers']);
    assert.equal(list.body.taskmanagers.length, 1);
    const tm = list.body.taskmanagers[0];
    assert.equal(tm.id, `${hostname()}-taskmanager-1`);
    assert.equal(tm.slotsNumber, SLOTS);
    assert.equal(tm.freeSlots, SLOTS - 2, 'the running job holds two slots');
    assert.equal(tm.hardware.cpuCores, availableParallelism());
    assert.equal(tm.hardware.physicalMemory, totalmem());
    assert.ok(Number.isInteger(tm.hardware.freeMemory) && tm.hardware.freeMemory > 0 && tm.hardware.freeMemory <= totalmem());
    assert.equal(tm.hardware.managedMemory, 0);
    assert.ok(Number.isInteger(tm.timeSinceLastHeartbeat) && tm.timeSinceLastHeartbeat > 0);
    assert.equal(typeof tm.path, 'string');
    assert.equal(tm.dataPort, -1);

    const one = await get(`/taskmanagers/${encodeURIComponent(tm.id)}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, tm.id);
    assert.equal(one.body.slotsNumber, SLOTS);
    assert.deepEqual(one.body.allocatedSlots, [
      { index: 0, jobId: id },
      { index: 1, jobId: id },
    ]);
    assert.ok(Number.isInteger(one.body.metrics.heapUsed) && one.body.metrics.heapUsed > 0);
    assert.ok(one.body.metrics.heapUsed <= one.body.metrics.heapCommitted);
    assert.ok(one.body.metrics.heapCommitted <= one.body.metrics.heapMax);
  } finally {
    await client.cancelJob(id);
  }
  const unknown = await get('/taskmanagers/no-such-taskmanager');
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.body, { errors: ['Could not find TaskExecutor no-such-taskmanager.'] });
});

const runtimeFixture = (name: string): JobSubmission['jobModule'] => ({
  fileName: `${name}.ts`,
  source: readFileSync(fileURLToPath(new URL(`../runtime/jobs/${name}.ts`, import.meta.url)), 'utf8'),
});

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

test('GET /jobs/:jobid/vertices/:vertexid and …/backpressure: a fast source into a slow map is back-pressured, the map busy', async () => {
  // busy-map: a source of numbers, rebalanced into a map that spins about 50 µs per record.
  const id = await client.submitJob({ jobModule: runtimeFixture('busy-map'), parallelism: 1 });
  try {
    const job = await client.jobDetails(id);
    const source = job.vertices.find((v) => v.name.startsWith('numbers'));
    const map = job.vertices.find((v) => v.name.startsWith('slow map'));
    assert.ok(source && map, `the job has the source and the map: ${job.vertices.map((v) => v.name).join(', ')}`);

    const details = await until('the map to count records', async () => {
      const r = await get(`/jobs/${id}/vertices/${map.id}`);
      assert.equal(r.status, 200);
      return r.body.subtasks[0].metrics['read-records'] > 0 ? r.body : undefined;
    });
    assert.equal(details.id, map.id);
    assert.equal(details.name, map.name);
    assert.equal(details.parallelism, 1);
    assert.equal(details.maxParallelism, map.maxParallelism);
    assert.ok(Number.isInteger(details.now));
    assert.equal(details.subtasks.length, 1);
    const sub = details.subtasks[0];
    assert.equal(sub.subtask, 0);
    assert.equal(sub.status, 'RUNNING');
    assert.equal(sub.attempt, 0);
    assert.equal(sub.host, hostname());
    assert.ok(Number.isInteger(sub['start-time']) && sub['start-time'] > 0);
    assert.equal(sub['end-time'], -1);
    assert.equal(sub.metrics['read-records-complete'], true);
    assert.ok(Number.isInteger(sub.metrics['read-records']));
    // At parallelism 1 every task runs in one worker thread: channels move objects, no bytes.
    assert.equal(sub.metrics['read-bytes-complete'], true);
    assert.equal(sub.metrics['read-bytes'], 0, 'no serialised batches within one thread');
    assert.ok(sub.metrics['accumulated-busy-time'] > 0, `the map has been busy: ${JSON.stringify(sub.metrics)}`);

    const sourceDetails = (await get(`/jobs/${id}/vertices/${source.id}`)).body;
    assert.ok(sourceDetails.subtasks[0].metrics['write-records'] > 0, 'the source has emitted records');

    // The source waits for credit most of the time once the map is saturated (over 500 ms a
    // second, "high"); polled until the per-second figures of a full second show it.
    const bp = await until('the source to be back-pressured', async () => {
      const r = await get(`/jobs/${id}/vertices/${source.id}/backpressure`);
      assert.equal(r.status, 200);
      return r.body.status === 'ok' && r.body['backpressure-level'] !== 'ok' ? r.body : undefined;
    });
    assert.deepEqual(Object.keys(bp), ['status', 'backpressure-level', 'end-timestamp', 'subtasks']);
    assert.ok(Number.isInteger(bp['end-timestamp']) && bp['end-timestamp'] > 0);
    assert.equal(bp.subtasks.length, 1);
    const s0 = bp.subtasks[0];
    assert.equal(s0.subtask, 0);
    assert.equal(s0['backpressure-level'], bp['backpressure-level']);
    assert.ok(s0.ratio > 0.1 && s0.ratio <= 1, `ratio ${s0.ratio}`);
    assert.ok(Math.abs(s0.ratio + s0.idleRatio + s0.busyRatio - 1) <= 0.002, `the ratios add up to 1: ${JSON.stringify(s0)}`);

    const mapBp = (await get(`/jobs/${id}/vertices/${map.id}/backpressure`)).body;
    assert.equal(mapBp.status, 'ok');
    assert.ok(mapBp.subtasks[0].busyRatio > mapBp.subtasks[0].ratio, `the map is busy rather than back-pressured: ${JSON.stringify(mapBp)}`);

    const unknown = await get(`/jobs/${id}/vertices/00000000000000000000000000000000`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.errors[0], /^unknown vertex 00000000000000000000000000000000 of job /);
    assert.equal((await get(`/jobs/00000000000000000000000000000000/vertices/${map.id}/backpressure`)).status, 404);
  } finally {
    await client.cancelJob(id);
  }
});
