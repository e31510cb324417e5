/**
 * The Dispatcher on its own: real job modules written to a jobs directory, imported as `weir run`
 * does and run as LocalJobs on worker threads, with slot accounting, the operations clients
 * poll by trigger id, and the process-global launch context put back after every submission.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { executionRegistry } from '../../src/api/execution-context.ts';
import { createLogger } from '../../src/core/logger.ts';
import {
  Dispatcher,
  DispatcherShutDownError,
  InsufficientSlotsError,
  JobStateError,
  SubmissionError,
  UnknownJobError,
  UnknownTriggerError,
  type JobSubmission,
  type OperationStatus,
} from '../../src/cluster/dispatcher.ts';

const fixture = (name: string): JobSubmission['jobModule'] => ({
  fileName: `${name}.ts`,
  source: readFileSync(fileURLToPath(new URL(`../jobs/${name}.ts`, import.meta.url)), 'utf8'),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function settled<T>(what: string, status: () => OperationStatus<T>): Promise<OperationStatus<T>> {
  return until(what, () => {
    const s = status();
    return s.status === 'COMPLETED' ? s : undefined;
  });
}

function resultOf<T>(s: OperationStatus<T>): T {
  if (s.status !== 'COMPLETED') throw new Error('still in progress');
  if ('failure' in s) throw s.failure;
  return s.result;
}

const pathOf = (location: string): string => (location.startsWith('file:') ? fileURLToPath(location) : location);

let root: string;
let jobsDir: string;
let d: Dispatcher;
const log: string[] = [];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'weir-dispatcher-test-'));
  jobsDir = join(root, 'jobs');
  d = new Dispatcher({
    slots: 4,
    jobsDir,
    config: { 'state.checkpoints.dir': join(root, 'checkpoints'), 'state.savepoints.dir': join(root, 'savepoints') },
    // The log's JSON lines, by message.
    logger: createLogger({ name: 'dispatcher-test', destination: { write: (line: string) => void log.push((JSON.parse(line) as { msg: string }).msg) } }),
  });
});

after(async () => {
  await d.shutdown();
  rmSync(root, { recursive: true, force: true });
});

let running: string;

test('a submitted module runs as a cluster job, and the launch context is put back', async () => {
  const registry = executionRegistry();
  const executor = registry.executor;
  const argv = [...process.argv];
  running = await d.submit({ jobModule: fixture('cluster-unbounded'), parallelism: 1, programArgs: ['named by its args'] });
  assert.match(running, /^[0-9a-f]{32}$/);
  assert.equal(registry.executor, executor, 'the previous executor is back');
  assert.deepEqual(process.argv, argv, 'process.argv is back');

  const job = d.job(running);
  assert.equal(job.status, 'RUNNING', 'submit resolves once the job runs');
  assert.equal(job.name, 'named by its args', 'programArgs reach the module as process.argv.slice(2)');
  assert.equal(job.config['weir.execution.mode'], 'threads');
  assert.equal(job.config['parallelism.default'], 1);
  assert.equal(job.slots, 1);
  assert.equal(job.vertices.length, 2, 'source | count per key -> discard');
  for (const v of job.vertices) assert.match(v.id, /^[0-9a-f]{32}$/);
  assert.notEqual(job.vertices[0]!.id, job.vertices[1]!.id);
  assert.deepEqual(job.vertices[1]!.inputs, [{ id: job.vertices[0]!.id, partitioner: 'hash' }]);
  assert.ok(job.timestamps.RUNNING! >= job.startTime);
  assert.equal(job.endTime, undefined);
  assert.equal(d.freeSlots, 3);
  assert.deepEqual(
    d.jobs().map((j) => j.id),
    [running],
  );
  assert.equal(readdirSync(jobsDir).length, 1, 'one directory per submission');
  assert.ok(log.some((l) => l.includes(running) && l.includes('submitted')));
});

test('a job that needs more slots than are free is refused before anything runs', async () => {
  await assert.rejects(
    d.submit({ jobModule: fixture('cluster-unbounded'), parallelism: 4 }),
    (e: unknown) => e instanceof InsufficientSlotsError && e.message === 'job needs 4 slots but the cluster has 3 free (4 in all)',
  );
  await assert.rejects(d.submit({ jobModule: fixture('cluster-bounded'), parallelism: 5 }), /job needs 5 slots but the cluster has 3 free \(4 in all\)/);
  assert.equal(d.jobs().length, 1);
  assert.equal(readdirSync(jobsDir).length, 1, 'a refused submission leaves no directory behind');
});

test('modules that throw, never execute, build an invalid graph or restore from a bad path are refused', async () => {
  const executor = executionRegistry().executor;
  const module = (fileName: string, source: string) => ({ jobModule: { fileName, source } });
  await assert.rejects(d.submit(module('throws.mjs', "throw new Error('no settings file found');\n")), (e: unknown) => {
    return e instanceof SubmissionError && /throws\.mjs: no settings file found/.test(e.message);
  });
  await assert.rejects(
    d.submit(module('idle.mjs', "import { StreamExecutionEnvironment } from 'weir';\nStreamExecutionEnvironment.getExecutionEnvironment();\n")),
    /idle\.mjs did not call env\.execute\(\)/,
  );
  const duplicateUid = [
    "import { StreamExecutionEnvironment } from 'weir';",
    'const env = StreamExecutionEnvironment.getExecutionEnvironment();',
    "env.fromSequence(1, 10).map((n) => n).uid('same').map((n) => n).uid('same').addSink(() => {});",
    "await env.execute('duplicate uids');",
  ].join('\n');
  await assert.rejects(d.submit(module('dup.ts', duplicateUid)), /uid "same" is used by two operators/);
  await assert.rejects(
    d.submit({ jobModule: fixture('cluster-bounded'), savepointPath: join(root, 'no-such-savepoint') }),
    (e: unknown) => e instanceof SubmissionError && e.message.includes('no-such-savepoint'),
  );
  await assert.rejects(d.submit(module('bad config.ts', '')), /"jobModule.fileName" must be a bare file name/);
  await assert.rejects(d.submit(module('../escape.ts', '')), /"jobModule.fileName"/);
  await assert.rejects(d.submit({ ...module('a.ts', ''), config: { 'no.such.key': '1' } }), /unknown configuration key "no.such.key"/);
  await assert.rejects(d.submit({ ...module('a.ts', ''), config: { 'parallelism.default': 'many' } }), /parallelism.default must be an integer/);
  await assert.rejects(d.submit({ ...module('a.ts', ''), parallelism: 0 }), /"parallelism" must be an integer between 1 and 32768/);
  await assert.rejects(d.submit({ ...module('a.ts', ''), savepointPath: 'relative/sp' }), /absolute path or a file:\/\/ URI/);
  await assert.rejects(d.submit({ ...module('a.ts', ''), extra: 1 } as unknown as JobSubmission), /unknown field "extra"/);
  assert.equal(executionRegistry().executor, executor);
  assert.equal(d.jobs().length, 1, 'nothing was registered');
  assert.equal(readdirSync(jobsDir).length, 1);
});

test('checkpoints are triggered by id; unknown jobs and triggers are errors of their own', async () => {
  const trigger = d.triggerCheckpoint(running);
  assert.match(trigger, /^[0-9a-f]{32}$/);
  const id = resultOf(await settled('the checkpoint', () => d.checkpointStatus(running, trigger)));
  assert.ok(Number.isInteger(id) && id >= 1, `checkpoint id ${id}`);
  const stats = await d.checkpointStats(running);
  assert.ok(stats!.history.some((e) => e.id === id && e.status === 'COMPLETED'));

  assert.throws(() => d.checkpointStatus(running, 'f'.repeat(32)), UnknownTriggerError);
  assert.throws(() => d.savepointStatus(running, trigger), UnknownTriggerError, 'a checkpoint trigger is not a savepoint trigger');
  assert.throws(() => d.job('nope'), (e: unknown) => e instanceof UnknownJobError && e.message === 'unknown job nope');
  assert.throws(() => d.triggerSavepoint('nope'), UnknownJobError);
  await assert.rejects(d.cancel('nope'), UnknownJobError);
  await assert.rejects(d.checkpointStats('nope'), UnknownJobError);
});

test('a bounded job finishes, a failing one keeps its cause, and neither takes requests for running jobs', async () => {
  const bounded = await d.submit({ jobModule: fixture('cluster-bounded'), parallelism: 2 });
  const failing = await d.submit({ jobModule: fixture('cluster-failing'), parallelism: 1 });
  await until('the bounded job to finish', () => d.job(bounded).status === 'FINISHED');
  await until('the failing job to fail', () => d.job(failing).status === 'FAILED');

  const done = d.job(bounded);
  assert.ok(done.endTime! >= done.startTime);
  assert.equal(done.failure, undefined);
  await assert.rejects(d.cancel(bounded), (e: unknown) => e instanceof JobStateError && /already finished/.test(e.message));
  assert.throws(() => d.triggerSavepoint(bounded), (e: unknown) => e instanceof JobStateError && /is FINISHED: a savepoint needs a running job/.test(e.message));
  assert.throws(() => d.stop(bounded, { drain: false }), JobStateError);
  assert.throws(() => d.triggerCheckpoint(bounded), JobStateError);

  const failed = d.job(failing);
  assert.ok(failed.failure, 'the failure is kept');
  let causes = '';
  for (let c: unknown = failed.failure.error; c instanceof Error; c = c.cause) causes += `${c.name}: ${c.message}\n`;
  assert.match(causes, /RecordRejected: record 42 is not welcome/);
  assert.equal(failed.failure.timestamp, failed.endTime);
  await assert.rejects(d.cancel(failing), /already failed/);

  await until('the finished jobs to give their slots back', () => d.freeSlots === 3);
  await until('finished submissions to be removed', () => readdirSync(jobsDir).length === 1);
});

test('a job without checkpointing refuses a checkpoint trigger', async () => {
  const noCheckpoints = [
    "import { StreamExecutionEnvironment } from 'weir';",
    'const env = StreamExecutionEnvironment.getExecutionEnvironment();',
    'env.fromSequence(1, 1e12).addSink(() => {});',
    "await env.execute('no checkpoints');",
  ].join('\n');
  const id = await d.submit({ jobModule: { fileName: 'plain.mjs', source: noCheckpoints }, parallelism: 1 });
  assert.throws(() => d.triggerCheckpoint(id), /does not have checkpointing enabled/);
  assert.equal(await d.checkpointStats(id), undefined);
  await d.cancel(id);
  assert.equal(d.job(id).status, 'CANCELED');
});

test('savepoints: taken into a directory, restored from, with cancel-job, and stop-with-savepoint', async () => {
  const target = join(root, 'sp-explicit');
  const trigger = d.triggerSavepoint(running, { targetDirectory: target });
  const location = resultOf(await settled('the savepoint', () => d.savepointStatus(running, trigger)));
  assert.ok(pathOf(location).startsWith(target), `${location} is under ${target}`);
  assert.ok(existsSync(join(pathOf(location), '_metadata')), 'the savepoint has its _metadata');
  assert.equal(d.job(running).status, 'RUNNING', 'a plain savepoint leaves the job running');

  const stopped = d.stop(running, { drain: false });
  const stopLocation = resultOf(await settled('the stop', () => d.savepointStatus(running, stopped)));
  assert.ok(pathOf(stopLocation).startsWith(join(root, 'savepoints')), 'without a target, state.savepoints.dir');
  assert.ok(existsSync(join(pathOf(stopLocation), '_metadata')));
  await until('the stopped job to finish', () => d.job(running).status === 'FINISHED');

  const restored = await d.submit({ jobModule: fixture('cluster-unbounded'), parallelism: 2, savepointPath: stopLocation });
  const restoredStats = await d.checkpointStats(restored);
  assert.equal(restoredStats!.latest.restored?.is_savepoint, true, 'restored from the savepoint');
  const cancelTrigger = d.triggerSavepoint(restored, { cancelJob: true });
  resultOf(await settled('the savepoint with cancel-job', () => d.savepointStatus(restored, cancelTrigger)));
  assert.equal(d.job(restored).status, 'CANCELED');
  assert.throws(() => d.triggerSavepoint(restored), /is CANCELED/);
  await d.cancel(restored); // cancelling a cancelled job is a no-op
});

test('shutdown cancels the jobs that run and takes no more submissions', async () => {
  const id = await d.submit({ jobModule: fixture('cluster-unbounded'), parallelism: 1 });
  await d.shutdown();
  assert.equal(d.job(id).status, 'CANCELED');
  assert.equal(d.freeSlots, 4);
  await assert.rejects(d.submit({ jobModule: fixture('cluster-bounded') }), DispatcherShutDownError);
  assert.deepEqual(readdirSync(jobsDir), [], 'every submission directory is gone');
});
