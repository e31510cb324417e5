/**
 * Savepoints in running jobs: taken with and without periodic checkpoints (always aligned, also
 * in at-least-once jobs), self-contained and relocatable, restored at another parallelism with
 * exact results; stop and stop --drain; the errors a user meets; and the seed's SavepointExample.
 */
import type { CheckpointId } from '../../src/core/ids.ts';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { CheckpointCoordinator, type CheckpointTriggerOptions } from '../../src/checkpoint/checkpoint-coordinator.ts';
import type { CheckpointMetadata } from '../../src/checkpoint/checkpoint-types.ts';
import { createSavepointWriter, loadCheckpoint } from '../../src/checkpoint/filesystem-checkpoint-storage.ts';
import { checkpointOptionsFor, type CheckpointOptions } from '../../src/checkpoint/checkpoint-options.ts';
import { BarrierHandler } from '../../src/runtime/checkpoint/barrier-handler/barrier-handler.ts';
import { ManualScheduler, runJob, startJob } from '../../src/testing/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-savepoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const N = 12_000;
/** About 3 records per ms per reader: a run at parallelism 2 lasts about 2 s. */
const PACE = { batch: 3, pauseMs: 1 };
const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Row = readonly unknown[];

let straight: string[];
before(async () => {
  straight = canon((await runJob('test/jobs/savepoint-keyed.ts', { args: [String(N), '{}'], parallelism: 1, mode: 'inline' })).collected);
  assert.equal(straight.length, 7 + 2);
});

const args = (o: Record<string, unknown>) => [String(N), JSON.stringify(o)];

/**
 * Restores `path` and runs to the end; its collected rows without the 'resumed' ones, which must
 * show that the savepoint held part of the input (not none, not all).
 */
async function restored(path: string, parallelism: number, extra: Record<string, unknown> = {}, o: Record<string, unknown> = {}): Promise<string[]> {
  const { collected } = await runJob('test/jobs/savepoint-keyed.ts', {
    args: args(o),
    parallelism,
    mode: 'inline',
    config: { 'execution.savepoint.path': path, ...extra },
  });
  const rows = collected as Row[];
  const resumed = rows.filter((r) => r[0] === 'resumed').reduce((n, r) => n + Number(r[2]), 0);
  assert.ok(resumed > 0 && resumed < N, `the savepoint held ${resumed} of ${N} records`);
  return canon(rows.filter((r) => r[0] !== 'resumed'));
}

describe('savepoints of running jobs', () => {
  let copy: string;

  it('threads, p=2, at-least-once checkpoints: a self-contained savepoint with kind and state names, relocatable', async () => {
    const client = await startJob('test/jobs/savepoint-keyed.ts', {
      args: args({ interval: 100, mode: 'AT_LEAST_ONCE', dir: join(dir, 'chk'), ...PACE }),
      parallelism: 2,
    });
    await sleep(400);
    const target = join(dir, 'sp-a');
    const path = await client.triggerSavepoint(target);
    assert.match(basename(path), new RegExp(`^savepoint-${client.getJobID().slice(0, 6)}-[0-9a-f]{12}$`));
    assert.equal(await client.getJobStatus(), 'RUNNING', 'a savepoint leaves the job running');
    await client.cancel();
    await assert.rejects(client.getJobExecutionResult(), /cancelled/);

    const { metadata } = await loadCheckpoint(path);
    assert.equal(metadata.kind, 'savepoint');
    const byUid = new Map(metadata.operators.map((o) => [o.uid, o]));
    assert.deepEqual(byUid.get('totals')!.stateNames, ['count', 'sum']);
    assert.deepEqual(byUid.get('parity')!.stateNames, ['count', 'sum']);
    assert.equal(byUid.get('totals')!.parallelism, 2);
    assert.ok(readdirSync(path).some((f) => f.endsWith('.kstate')), 'state files live beside _metadata');
    const text = readFileSync(join(path, '_metadata'), 'utf8');
    assert.ok(!text.includes(dir), '_metadata holds no absolute paths');
    assert.equal(existsSync(join(dir, 'chk', client.getJobID())), false, 'the cancelled job left no checkpoints behind');

    copy = join(dir, 'moved', 'my-savepoint');
    cpSync(path, copy, { recursive: true });
    rmSync(target, { recursive: true });
  });

  it('restored from the copy at parallelism 3 and at 1, the final results are exact', async () => {
    assert.deepEqual(await restored(copy, 3), straight);
    assert.deepEqual(await restored(copy, 1), straight);
  });

  it('a job without periodic checkpointing takes a savepoint too; restored at p=2 it is exact', async () => {
    const client = await startJob('test/jobs/savepoint-keyed.ts', {
      args: args({ savepointDir: `file://${join(dir, 'default-sp')}`, ...PACE }),
      parallelism: 2,
      mode: 'inline',
    });
    await sleep(300);
    const path = await client.triggerSavepoint();
    assert.equal(join(path, '..'), join(dir, 'default-sp'), 'setDefaultSavepointDirectory decides where it goes');
    await assert.rejects(client.triggerCheckpoint(), /does not have checkpointing enabled/);
    assert.equal(await client.getCheckpointStats(), undefined);
    await client.cancel();
    await assert.rejects(client.getJobExecutionResult(), /cancelled/);
    assert.deepEqual(await restored(path, 2), straight);
  });

  it('without a target and without a configured directory: a clear error, and the job runs on', async () => {
    const client = await startJob('test/jobs/savepoint-keyed.ts', { args: args(PACE), parallelism: 1, mode: 'inline' });
    await assert.rejects(client.triggerSavepoint(), (e: Error) => {
      assert.match(e.message, /no savepoint directory/);
      assert.match(e.message, /state\.savepoints\.dir/);
      assert.match(e.message, /execution\.checkpointing\.savepoint-dir/);
      assert.match(e.message, /triggerSavepoint\(dir\)/);
      return true;
    });
    await assert.rejects(client.stopWithSavepoint(), /no savepoint directory/);
    assert.equal(await client.getJobStatus(), 'RUNNING');
    await client.cancel();
    await assert.rejects(client.getJobExecutionResult(), /cancelled/);
  });

  it('state of a removed operator is refused, naming its uid; allowed with execution.savepoint.ignore-unclaimed-state', async () => {
    await assert.rejects(restored(copy, 2, {}, { drop: true }), /uid "parity"/);
    const rows = await restored(copy, 2, { 'execution.savepoint.ignore-unclaimed-state': true }, { drop: true });
    assert.deepEqual(rows, straight.filter((r) => r.startsWith('["final"')));
  });
});

describe('stop with a savepoint', () => {
  it('without drain: the job ends FINISHED, no end-of-input timer fires, and the savepoint resumes exactly', async () => {
    const client = await startJob('test/jobs/savepoint-keyed.ts', { args: args(PACE), parallelism: 2, mode: 'inline' });
    await sleep(300);
    const path = await client.stopWithSavepoint(join(dir, 'stop'));
    assert.equal(await client.getJobStatus(), 'FINISHED');
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, Row[]> };
    assert.deepEqual([...result.collected.values()].flat(), [], 'no timer fired: event time did not end');
    assert.ok(existsSync(join(path, '_metadata')), 'the savepoint stays');
    assert.deepEqual(await restored(path, 3), straight);
  });

  it('with drain: event time ends before the savepoint, so every key reports its partial totals, then the job finishes', async () => {
    const client = await startJob('test/jobs/savepoint-keyed.ts', { args: args(PACE), parallelism: 2 });
    await sleep(400);
    const path = await client.stopWithSavepoint(join(dir, 'drain'), true);
    assert.equal(await client.getJobStatus(), 'FINISHED');
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, Row[]> };
    const rows = [...result.collected.values()].flat();
    const finals = rows.filter((r) => r[0] === 'final');
    assert.equal(finals.length, 7, JSON.stringify(rows));
    const seen = finals.reduce((n, r) => n + Number(r[2]), 0);
    assert.ok(seen > 0 && seen < N, `the drained job had read ${seen} of ${N} numbers`);
    assert.equal(rows.filter((r) => r[0] === 'parity').reduce((n, r) => n + Number(r[2]), 0), seen, 'both operators saw the same records');
    assert.ok(existsSync(join(path, '_metadata')));
  });

  it('a savepoint that fails: stop rejects, the held-back records flow again and the job ends exactly', async () => {
    const client = await startJob('test/jobs/savepoint-keyed.ts', { args: args({ ...PACE, failSnapshot: 1 }), parallelism: 2, mode: 'inline' });
    await sleep(300);
    await assert.rejects(client.stopWithSavepoint(join(dir, 'failing')), /savepoint failed.*injected failure of snapshot 1/s);
    assert.equal(await client.getJobStatus(), 'RUNNING');
    assert.deepEqual(readdirSync(join(dir, 'failing')), [], 'nothing of the failed savepoint stays');
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, Row[]> };
    assert.deepEqual(canon([...result.collected.values()].flat()), straight);
  });
});

/**
 * Runs `fn` while taking what the example prints (its lines carry the print prefix) off stdout.
 * Everything else passes: the test runner reports through the same stream.
 */
async function jobOutput<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  const original = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    if (text.startsWith('用户访问统计> ')) {
      out += text;
      return true;
    }
    return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    return { value: await fn(), stdout: out };
  } finally {
    process.stdout.write = original;
  }
}

describe('the seed SavepointExample (examples/savepoint.ts)', () => {
  it('stopped with a savepoint and started again from it, the count of every user goes on where it stopped', async () => {
    const lines = (out: string) =>
      [...out.matchAll(/用户访问统计> (Mary|Alice|Bob|Cary) 访问次数: (\d+)\n/g)].map((m) => [m[1]!, Number(m[2])] as const);
    const first = await jobOutput(async () => {
      const client = await startJob('examples/savepoint.ts', { args: ['100000', '2'] });
      await sleep(300);
      const path = await client.stopWithSavepoint(join(dir, 'example'));
      assert.equal(await client.getJobStatus(), 'FINISHED');
      return path;
    });
    const before = new Map<string, number>();
    for (const [user, count] of lines(first.stdout)) {
      assert.equal(count, (before.get(user) ?? 0) + 1, `${user} counts 1, 2, 3, ...`);
      before.set(user, count);
    }
    assert.ok(before.size > 0, 'the first run counted visits');

    const second = await jobOutput(async () => {
      const client = await startJob('examples/savepoint.ts', { args: ['12', '2'], config: { 'execution.savepoint.path': first.value } });
      await client.getJobExecutionResult();
    });
    const after = lines(second.stdout);
    assert.equal(after.length, 12);
    const seen = new Map(before);
    for (const [user, count] of after) {
      assert.equal(count, (seen.get(user) ?? 0) + 1, `${user} goes on from its restored count`);
      seen.set(user, count);
    }
  });
});

describe('building blocks', () => {
  it('coordinator: a savepoint with its own target is written there, not handed to onCompleted; only a stopping one is announced', async () => {
    const events: string[] = [];
    const triggered: CheckpointTriggerOptions[] = [];
    const coordinator = new CheckpointCoordinator({
      jobId: 'job-1',
      scheduler: new ManualScheduler(1000),
      tasks: [{ vertex: 0, subtask: 0 }],
      operators: [{ vertex: 0, operatorId: 'op', uid: 'src', name: 'Source', parallelism: 1, maxParallelism: 128 }],
      intervalMs: undefined,
      timeoutMs: 10_000,
      minPauseMs: 0,
      maxConcurrent: 1,
      tolerableFailures: 0,
      gateway: {
        triggerCheckpoint: (id, _ts, options) => {
          triggered.push(options);
          events.push(`trigger ${id}`);
        },
        notifyCheckpointComplete: (id) => void events.push(`complete ${id}`),
        notifyCheckpointAborted: (id) => void events.push(`aborted ${id}`),
        failJob: () => void events.push('failJob'),
      },
      finalizer: { finalize: async () => ({ dir: '/cp' }), discard: async (id) => void events.push(`discard chk ${id}`) },
      onCompleted: (c) => void events.push(`onCompleted ${c.checkpointId}`),
    });
    coordinator.startPeriodic(); // no interval: nothing periodic
    const target = (name: string) => ({
      dir: `/sp/${name}`,
      writeMetadata: async (m: CheckpointMetadata) => (events.push(`write ${name} ${m.kind} ${m.operators[0]!.stateNames.join('+')}`), `/sp/${name}`),
      discard: async () => void events.push(`discard ${name}`),
    });
    const ack = (id: number) =>
      coordinator.acknowledge({
        subtask: { vertex: 0, subtask: 0 },
        checkpointId: id as CheckpointId,
        states: [{ operatorId: 'op', files: [], inline: 1, stateNames: ['b', 'a'] }],
        metrics: { syncDurationMs: 0, asyncDurationMs: 0, alignmentDurationMs: 0, startDelayMs: 0, bytesProcessedDuringAlignment: 0, stateSize: 1, persistedDataBytes: 0, unaligned: false, busyTimeMsPerSecond: 0, backPressuredTimeMsPerSecond: 0 },
      });

    const plain = coordinator.triggerCheckpoint({ savepoint: target('one') });
    ack(1);
    assert.deepEqual(await plain, { checkpointId: 1, dir: '/sp/one' });
    const stop = coordinator.triggerCheckpoint({ savepoint: target('two'), stop: { drain: true } });
    ack(2);
    assert.deepEqual(await stop, { checkpointId: 2, dir: '/sp/two' });
    const failing = coordinator.triggerCheckpoint({ savepoint: target('three') });
    coordinator.decline((3 as CheckpointId), { vertex: 0, subtask: 0 }, new Error('no'));
    await assert.rejects(failing, /declined/);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(triggered, [
      { isSavepoint: true, savepointDir: '/sp/one' },
      { isSavepoint: true, savepointDir: '/sp/two', stop: { drain: true } },
      { isSavepoint: true, savepointDir: '/sp/three' },
    ]);
    assert.deepEqual(events, ['trigger 1', 'write one savepoint a+b', 'trigger 2', 'write two savepoint a+b', 'complete 2', 'trigger 3', 'discard three', 'aborted 3']);
    assert.equal(coordinator.consecutiveFailures(), 0, 'a failed savepoint is not counted');
  });

  it('barrier handler: a savepoint is aligned in at-least-once mode; a plain at-least-once checkpoint does not block', () => {
    const savepoint = checkpointOptionsFor({ isSavepoint: true, savepointDir: '/sp' }, 'at-least-once');
    const plain = checkpointOptionsFor({ isSavepoint: false }, 'at-least-once');
    const barrier = (checkpointId: number, options: CheckpointOptions) => ({ kind: 'checkpoint-barrier', checkpointId: checkpointId as CheckpointId, timestamp: 0, options }) as const;
    assert.equal(savepoint.alignment, 'aligned', 'savepoint barriers carry aligned whatever the job mode');
    const a = new BarrierHandler(2, () => 0);
    assert.deepEqual(a.onBarrier(0, barrier(1, savepoint)), { kind: 'none' });
    assert.equal(a.isBlocked(0), true, 'records after the savepoint barrier wait');
    assert.equal(a.onBarrier(1, barrier(1, savepoint)).kind, 'complete');
    assert.equal(a.isBlocked(0), false);
    assert.deepEqual(a.onBarrier(0, barrier(2, plain)), { kind: 'none' });
    assert.equal(a.isBlocked(0), false, 'a plain at-least-once checkpoint never blocks');
    assert.equal(a.onBarrier(1, barrier(2, plain)).kind, 'complete');
    const exactlyOnce = new BarrierHandler(2, () => 0);
    exactlyOnce.onBarrier(0, barrier(1, checkpointOptionsFor({ isSavepoint: false }, 'aligned')));
    assert.equal(exactlyOnce.isBlocked(0), true, 'exactly-once alignment blocks');
  });

  it('_metadata written before state names were recorded reads back with none', async () => {
    const writer = await createSavepointWriter(join(dir, 'old-format'), 'a1b2c3d4');
    const metadata: CheckpointMetadata = {
      version: 1,
      jobId: 'a1b2c3d4',
      checkpointId: 3 as CheckpointId,
      timestamp: 1,
      kind: 'savepoint',
      operators: [{ operatorId: 'op', uid: 'u', name: 'Op', parallelism: 1, maxParallelism: 128, stateNames: ['x'], subtasks: [undefined] }],
    };
    await writer.writeMetadata(metadata);
    const file = join(writer.dir, '_metadata');
    const envelope = JSON.parse(readFileSync(file, 'utf8')) as { sha256: string; metadata: { operators: Record<string, unknown>[] } };
    delete envelope.metadata.operators[0]!['stateNames'];
    envelope.sha256 = createHash('sha256').update(JSON.stringify(envelope.metadata)).digest('hex');
    writeFileSync(file, JSON.stringify(envelope));
    assert.deepEqual((await loadCheckpoint(writer.dir)).metadata.operators[0]!.stateNames, []);
  });

  it('execution.checkpointing.savepoint-dir is another name of state.savepoints.dir', async () => {
    const { Configuration } = await import('../../src/api/configuration.ts');
    const c = new Configuration({ 'execution.checkpointing.savepoint-dir': '/tmp/sp' });
    assert.equal(c.get('state.savepoints.dir'), '/tmp/sp');
    c.set('state.savepoints.dir', 'file:///x');
    assert.equal(c.get('execution.checkpointing.savepoint-dir'), 'file:///x');
    assert.equal(c.toObject()['execution.checkpointing.savepoint-dir'], 'file:///x');
  });
});
