import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobExecutionError, StreamExecutionEnvironment } from '../../src/index.ts';
import { ClickSource } from '../../examples/click-source.ts';
import { startJob } from '../../src/testing/index.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('executeAsync returns a running client; cancel() stops an unbounded inline job', async () => {
  const env = StreamExecutionEnvironment.getExecutionEnvironment({ 'weir.execution.mode': 'inline' });
  let seen = 0;
  env.addSource(new ClickSource({ intervalMs: 1, seed: 1 })).addSink(() => void seen++);
  const client = await env.executeAsync('clicks');
  assert.match(client.getJobID(), /^[0-9a-f]{32}$/);
  assert.equal(await client.getJobStatus(), 'RUNNING');
  while (seen < 5) await sleep(5);
  await client.cancel();
  assert.equal(await client.getJobStatus(), 'CANCELED');
  await assert.rejects(client.getJobExecutionResult(), (e: unknown) => e instanceof JobExecutionError && e.status === 'CANCELED');
  const after = seen;
  await sleep(30);
  assert.equal(seen, after, 'no record is processed after cancellation');
});

test('cancel() stops an unbounded job running on worker threads', async () => {
  const client = await startJob('test/jobs/unbounded-clicks.ts', { parallelism: 2, mode: 'threads' });
  assert.equal(await client.getJobStatus(), 'RUNNING');
  await sleep(100);
  await client.cancel();
  assert.equal(await client.getJobStatus(), 'CANCELED');
  await assert.rejects(client.getJobExecutionResult(), /was cancelled/);
});

test('a bounded job finishes with its net runtime and job id', async () => {
  const env = StreamExecutionEnvironment.getExecutionEnvironment({ 'weir.execution.mode': 'inline' });
  env.fromSequence(1, 10).addSink(() => {});
  const client = await env.executeAsync('bounded');
  const result = await client.getJobExecutionResult();
  assert.equal(result.getJobID(), client.getJobID());
  assert.ok(result.getNetRuntime() >= 0);
  assert.equal(await client.getJobStatus(), 'FINISHED');
});

test('execute() with no operators is a clear error', async () => {
  const env = StreamExecutionEnvironment.getExecutionEnvironment({ 'weir.execution.mode': 'inline' });
  await assert.rejects(env.execute(), /No operators defined/);
});
