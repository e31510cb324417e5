/**
 * As Flink's file-sink failure test: four parallel sources feeding three FileSink subtasks on
 * worker threads, a part file rolled at every checkpoint (every 20 ms), one source-side task
 * failing mid-stream; afterwards every input value is in the finished part files exactly once
 * and no part file is left in progress or pending.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startJob } from '../../../src/testing/index.ts';
import { readVisibleLines } from './fixtures/file-cases.ts';

const JOB = fileURLToPath(new URL('./fixtures/many-subtasks-job.ts', import.meta.url));
const COUNT = 8000;

it('4 sources, 3 FileSink subtasks, checkpoints every 20 ms, a failure mid-stream: every value in the finished files exactly once', async () => {
  const base = mkdtempSync(join(tmpdir(), 'weir-file-sink-many-'));
  try {
    const client = await startJob(JOB, { args: [base, JSON.stringify({ count: COUNT, sources: 4, sinks: 3, failAfter: 600 })], mode: 'threads' });
    await client.getJobExecutionResult();
    assert.equal(await client.getNumRestarts(), 1, 'the injected failure restarted the job once');
    const stats = await client.getCheckpointStats();
    assert.ok(stats!.counts.completed >= 3, `several checkpoints completed: ${JSON.stringify(stats!.counts)}`);
    const lines = readVisibleLines(base);
    const seen = new Map<string, number>();
    for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
    const twice = [...seen].filter(([, n]) => n > 1).map(([v]) => v);
    const missing = Array.from({ length: COUNT }, (_, n) => `value-${n}`).filter((v) => !seen.has(v));
    assert.deepEqual({ twice: twice.slice(0, 5), missing: missing.slice(0, 5) }, { twice: [], missing: [] });
    assert.equal(lines.length, COUNT);
    const files = readdirSync(base, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const finished = files.filter((e) => !e.name.startsWith('.'));
    assert.ok(finished.length >= 6, `parts from every sink subtask and several checkpoints (${finished.length} finished files)`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
