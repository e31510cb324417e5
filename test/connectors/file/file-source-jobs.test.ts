/**
 * FileSource in real jobs, with FileSink as the exactly-once output: a continuously monitored
 * directory whose files appear while the job runs (with an injected failure), and a restore that
 * resumes in the middle of a file from a checkpoint taken by hand.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runJob, startJob } from 'weir/testing';
import type { PipelineOptions } from './fixtures/file-pipeline-job.ts';
import { readVisibleLines } from './fixtures/file-cases.ts';

const JOB = fileURLToPath(new URL('./fixtures/file-pipeline-job.ts', import.meta.url));
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const scratch = mkdtempSync(join(tmpdir(), 'weir-file-jobs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Missing and repeated entries of `got` against `expected` (each expected once). */
function exactlyOnce(got: readonly string[], expected: readonly string[]): string | undefined {
  const seen = new Map<string, number>();
  for (const g of got) seen.set(g, (seen.get(g) ?? 0) + 1);
  const missing = expected.filter((e) => !seen.has(e));
  const repeated = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  const foreign = [...seen.keys()].filter((k) => !expected.includes(k));
  if (missing.length + repeated.length + foreign.length === 0 && got.length === expected.length) return undefined;
  return `${got.length} of ${expected.length}: missing ${missing.length} (${missing.slice(0, 3).join(', ')}), repeated ${repeated.length} (${repeated.slice(0, 3).join(', ')}), foreign ${foreign.length}`;
}

/** Polls until `done` holds or the time is up; returns whether it held. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await delay(25);
  }
  return true;
}

describe('FileSource in jobs', () => {
  it('a continuously monitored directory: files that appear while the job runs are read, every line exactly once, across an injected failure', async () => {
    const input = join(scratch, 'monitored-in');
    const output = join(scratch, 'monitored-out');
    mkdirSync(input);
    const files = Array.from({ length: 8 }, (_, f) => Array.from({ length: 150 }, (_, n) => `file ${f} line ${n}`));
    // One file before the start, the rest while the job runs: written under a hidden name, then renamed into place.
    const place = (f: number): void => {
      writeFileSync(join(input, `.writing-${f}`), files[f]!.join('\n') + '\n');
      renameSync(join(input, `.writing-${f}`), join(input, `batch-${String(f).padStart(2, '0')}.txt`));
    };
    place(0);
    const options: PipelineOptions = { input, output, monitorMs: 20, interval: 50, perMs: 2, failAfter: 250, rebalance: true };
    const client = await startJob(JOB, { args: [JSON.stringify(options)], parallelism: 2, mode: 'inline' });
    const ended = client.getJobExecutionResult().then(
      () => new Error('the unbounded job ended by itself'),
      (e: unknown) => e as Error,
    );
    try {
      for (let f = 1; f < files.length; f++) {
        await delay(120);
        place(f);
      }
      const expected = files.flat();
      const complete = await until(() => readVisibleLines(output).length >= expected.length, 20_000);
      await delay(250); // a few more checkpoints: a line committed twice would show
      const error = await Promise.race([ended, delay(0).then(() => undefined)]);
      if (error !== undefined) throw error;
      assert.ok(complete, `every line became visible: ${exactlyOnce(readVisibleLines(output), expected)}`);
      assert.equal(exactlyOnce(readVisibleLines(output), expected), undefined);
    } finally {
      await client.cancel().catch(() => {});
      await ended;
    }
    assert.ok((await client.getNumRestarts()) >= 1, 'the injected failure restarted the job');
    assert.equal((await client.getCheckpointStats())?.counts.restored, 1, 'the restart restored a checkpoint');
  });

  it('a restore resumes in the middle of a file at the checkpointed offset: the output is every line exactly once', async () => {
    const input = join(scratch, 'resume-in');
    const output = join(scratch, 'resume-out');
    const checkpointDir = join(scratch, 'resume-checkpoints');
    mkdirSync(input);
    const lines = Array.from({ length: 6000 }, (_, n) => `line ${n} ${'y'.repeat(n % 29)}`);
    writeFileSync(join(input, 'big.txt'), lines.join('\n') + '\n');

    // First run: paced (2 s for the file), so a checkpoint taken by hand after 300 ms lands mid-file; its commit makes the lines before it visible.
    const first = await startJob(JOB, { args: [JSON.stringify({ input, output, interval: 600_000, perMs: 3, checkpointDir } satisfies PipelineOptions)], parallelism: 1, mode: 'inline' });
    const ended = first.getJobExecutionResult().catch(() => undefined);
    await delay(300);
    const checkpoint = await first.triggerCheckpoint();
    assert.ok(await until(() => readVisibleLines(output).length > 0, 10_000), 'the checkpoint committed the lines before it');
    await first.cancel();
    await ended;
    const before = readVisibleLines(output);
    assert.ok(before.length > 0 && before.length < lines.length, `the checkpoint fell mid-file (${before.length} of ${lines.length} lines before it)`);
    assert.deepEqual(before, lines.slice(0, before.length), 'what the checkpoint committed is the file up to its offset, in order');

    // Second run: restored from that checkpoint, unpaced, no checkpointing: the rest is committed at the end of input.
    await runJob(JOB, { args: [JSON.stringify({ input, output, interval: null } satisfies PipelineOptions)], parallelism: 1, mode: 'inline', config: { 'execution.savepoint.path': checkpoint } });
    assert.equal(exactlyOnce(readVisibleLines(output), lines), undefined, 'every line exactly once over both runs');
  });
});
