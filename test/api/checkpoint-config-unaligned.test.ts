/**
 * Unaligned checkpoint settings: the CheckpointConfig methods and Flink's keys they write, how
 * values are parsed and rejected, the combinations refused at submission, and the barrier
 * alignment a job's ordinary checkpoints get from them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CheckpointConfig, CheckpointingMode, ConfigError, Configuration, StreamExecutionEnvironment } from '../../src/index.ts';
import { validateCheckpointing } from '../../src/api/checkpoint-config.ts';
import { checkpointAlignmentOf } from '../../src/checkpoint/checkpoint-alignment.ts';
import { checkpointOptionsFor } from '../../src/checkpoint/checkpoint-options.ts';
import { Dispatcher, SubmissionError } from '../../src/cluster/dispatcher.ts';

const configOf = (values: Record<string, unknown>) => new Configuration({ 'execution.checkpointing.interval': 1000, ...values });

test('the CheckpointConfig methods write and read their keys', () => {
  const conf = new Configuration();
  const c = new CheckpointConfig(conf);
  assert.equal(c.enableUnalignedCheckpoints(), c, 'chains');
  assert.equal(c.isUnalignedCheckpointsEnabled(), true);
  assert.equal(conf.get('execution.checkpointing.unaligned.enabled'), true);
  c.enableUnalignedCheckpoints(false);
  assert.equal(c.isUnalignedCheckpointsEnabled(), false);
  assert.equal(conf.get('execution.checkpointing.unaligned.enabled'), false);

  c.setAlignedCheckpointTimeout(250);
  assert.equal(c.getAlignedCheckpointTimeout(), 250);
  assert.equal(conf.get('execution.checkpointing.aligned-checkpoint-timeout'), 250);
  c.setAlignedCheckpointTimeout(0);
  assert.equal(c.getAlignedCheckpointTimeout(), 0);

  c.setForceUnalignedCheckpoints(true);
  assert.equal(c.isForceUnalignedCheckpoints(), true);
  assert.equal(conf.get('execution.checkpointing.unaligned.forced'), true);
  c.setForceUnalignedCheckpoints(false);
  assert.equal(c.isForceUnalignedCheckpoints(), false);
});

test("the keys parse from strings as Flink writes them, and Flink's older names are the same options", () => {
  const conf = new Configuration({
    'execution.checkpointing.unaligned.enabled': 'true',
    'execution.checkpointing.aligned-checkpoint-timeout': '30 s',
    'execution.checkpointing.unaligned.forced': ' TRUE ',
  });
  assert.equal(conf.get('execution.checkpointing.unaligned.enabled'), true);
  assert.equal(conf.get('execution.checkpointing.aligned-checkpoint-timeout'), 30_000);
  assert.equal(conf.get('execution.checkpointing.unaligned.forced'), true);

  const old = new Configuration({ 'execution.checkpointing.unaligned': 'true', 'execution.checkpointing.alignment-timeout': '2 min' });
  assert.equal(old.get('execution.checkpointing.unaligned.enabled'), true);
  assert.equal(old.get('execution.checkpointing.aligned-checkpoint-timeout'), 120_000);
  old.set('execution.checkpointing.unaligned.enabled', false);
  const o = old.toObject();
  assert.equal(o['execution.checkpointing.unaligned'], false, 'an alias shows the option it names');
  assert.equal(o['execution.checkpointing.alignment-timeout'], 120_000);
  assert.equal(old.clone().get('execution.checkpointing.aligned-checkpoint-timeout'), 120_000);
});

test('bad values are rejected with a message naming the key', () => {
  const c = new CheckpointConfig(new Configuration());
  assert.throws(() => c.setAlignedCheckpointTimeout(-1), (e: unknown) => e instanceof ConfigError && /execution\.checkpointing\.aligned-checkpoint-timeout must be a duration/.test(e.message));
  assert.throws(() => c.setAlignedCheckpointTimeout(Number.NaN), /execution\.checkpointing\.aligned-checkpoint-timeout/);
  assert.throws(() => c.enableUnalignedCheckpoints('yes' as never), /execution\.checkpointing\.unaligned\.enabled must be true or false, got "yes"/);
  assert.throws(() => c.setForceUnalignedCheckpoints(1 as never), /execution\.checkpointing\.unaligned\.forced must be true or false, got 1/);
  assert.throws(() => new Configuration({ 'execution.checkpointing.aligned-checkpoint-timeout': 'soon' }), /execution\.checkpointing\.aligned-checkpoint-timeout must be a duration/);
  assert.throws(() => new Configuration({ 'execution.checkpointing.alignment-timeout': '-5 s' }), /execution\.checkpointing\.alignment-timeout must be a duration/);
  assert.throws(() => new Configuration({ 'execution.checkpointing.unaligned': 'maybe' }), /execution\.checkpointing\.unaligned must be true or false/);
  assert.equal(c.getAlignedCheckpointTimeout(), 0, 'a rejected value leaves the setting as it was');
});

test('unaligned checkpoints refuse at-least-once mode and concurrent checkpoints, naming the settings', () => {
  const atLeastOnce = configOf({ 'execution.checkpointing.unaligned.enabled': true, 'execution.checkpointing.mode': 'AT_LEAST_ONCE' });
  assert.throws(
    () => validateCheckpointing(atLeastOnce),
    (e: unknown) =>
      e instanceof ConfigError &&
      /execution\.checkpointing\.unaligned\.enabled requires execution\.checkpointing\.mode EXACTLY_ONCE, got AT_LEAST_ONCE/.test(e.message),
  );
  const concurrent = configOf({ 'execution.checkpointing.unaligned.enabled': true, 'execution.checkpointing.max-concurrent-checkpoints': 2 });
  assert.throws(
    () => validateCheckpointing(concurrent),
    (e: unknown) =>
      e instanceof ConfigError &&
      /execution\.checkpointing\.unaligned\.enabled allows only one checkpoint at a time, got execution\.checkpointing\.max-concurrent-checkpoints 2/.test(e.message),
  );
  // The same settings without unaligned checkpoints, or without checkpointing, are fine.
  validateCheckpointing(configOf({ 'execution.checkpointing.mode': 'AT_LEAST_ONCE' }));
  validateCheckpointing(configOf({ 'execution.checkpointing.max-concurrent-checkpoints': 2 }));
  validateCheckpointing(new Configuration({ 'execution.checkpointing.unaligned.enabled': true, 'execution.checkpointing.mode': 'AT_LEAST_ONCE' }));
  validateCheckpointing(configOf({ 'execution.checkpointing.unaligned.enabled': true, 'execution.checkpointing.aligned-checkpoint-timeout': 100 }));
});

test('checkpointAlignmentOf: the mode, then the unaligned setting, then its aligned timeout', () => {
  assert.deepEqual(checkpointAlignmentOf(configOf({ 'execution.checkpointing.mode': 'AT_LEAST_ONCE' })), { alignment: 'at-least-once' });
  assert.deepEqual(checkpointAlignmentOf(configOf({})), { alignment: 'aligned' });
  assert.deepEqual(
    checkpointAlignmentOf(configOf({ 'execution.checkpointing.aligned-checkpoint-timeout': 500 })),
    { alignment: 'aligned' },
    'the timeout means nothing without unaligned checkpoints',
  );
  assert.deepEqual(checkpointAlignmentOf(configOf({ 'execution.checkpointing.unaligned.enabled': true })), { alignment: 'unaligned' });
  assert.deepEqual(
    checkpointAlignmentOf(configOf({ 'execution.checkpointing.unaligned.enabled': true, 'execution.checkpointing.aligned-checkpoint-timeout': '2 s' })),
    { alignment: 'aligned', alignedTimeoutMs: 2000 },
  );
});

test('the alignment reaches the checkpoint options of ordinary checkpoints; savepoints stay aligned', () => {
  const { alignment, alignedTimeoutMs } = checkpointAlignmentOf(
    configOf({ 'execution.checkpointing.unaligned.enabled': true, 'execution.checkpointing.aligned-checkpoint-timeout': 300 }),
  );
  assert.deepEqual(checkpointOptionsFor({ isSavepoint: false }, alignment, alignedTimeoutMs), {
    type: 'checkpoint',
    snapshotType: 'incremental',
    alignment: 'aligned',
    alignedTimeoutMs: 300,
  });
  const unaligned = checkpointAlignmentOf(configOf({ 'execution.checkpointing.unaligned.enabled': true }));
  assert.equal(checkpointOptionsFor({ isSavepoint: false }, unaligned.alignment, unaligned.alignedTimeoutMs).alignment, 'unaligned');
  const savepoint = checkpointOptionsFor({ isSavepoint: true, savepointDir: '/sp' }, unaligned.alignment, unaligned.alignedTimeoutMs);
  assert.equal(savepoint.alignment, 'aligned');
  assert.equal(savepoint.alignedTimeoutMs, undefined);
});

test('a bad combination fails the embedded execute() before the job runs', async () => {
  const seen: number[] = [];
  const env = StreamExecutionEnvironment.getExecutionEnvironment({ 'weir.execution.mode': 'inline' });
  env.enableCheckpointing(100);
  env.getCheckpointConfig().setCheckpointingMode(CheckpointingMode.AT_LEAST_ONCE).enableUnalignedCheckpoints();
  env.fromSequence(1, 10).addSink((n: number) => void seen.push(n));
  await assert.rejects(env.execute('unaligned at-least-once'), (e: unknown) => e instanceof ConfigError && /unaligned\.enabled requires execution\.checkpointing\.mode EXACTLY_ONCE/.test(e.message));
  assert.deepEqual(seen, [], 'nothing ran');
});

test('a bad combination fails a cluster submission before the job runs, naming the settings', async () => {
  const root = mkdtempSync(join(tmpdir(), 'weir-unaligned-submission-'));
  const d = new Dispatcher({ slots: 2, jobsDir: join(root, 'jobs'), config: { 'state.checkpoints.dir': join(root, 'checkpoints') } });
  try {
    const jobModule = {
      fileName: 'cluster-bounded.ts',
      source: readFileSync(fileURLToPath(new URL('../jobs/cluster-bounded.ts', import.meta.url)), 'utf8'),
    };
    const unaligned = { 'execution.checkpointing.interval': '100', 'execution.checkpointing.unaligned.enabled': 'true' };
    await assert.rejects(
      d.submit({ jobModule, config: { ...unaligned, 'execution.checkpointing.max-concurrent-checkpoints': '3' } }),
      (e: unknown) => e instanceof SubmissionError && /unaligned\.enabled allows only one checkpoint at a time, got execution\.checkpointing\.max-concurrent-checkpoints 3/.test(e.message),
    );
    await assert.rejects(
      d.submit({ jobModule, config: { ...unaligned, 'execution.checkpointing.mode': 'AT_LEAST_ONCE' } }),
      (e: unknown) => e instanceof SubmissionError && /unaligned\.enabled requires execution\.checkpointing\.mode EXACTLY_ONCE/.test(e.message),
    );
    assert.equal(d.jobs().length, 0, 'no job was started');
  } finally {
    await d.shutdown();
    rmSync(root, { recursive: true, force: true });
  }
});
