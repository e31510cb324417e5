/**
 * Golden tests of exactly-once recovery: each pipeline of test/jobs/golden.ts runs three ways —
 * straight through without checkpoints; at parallelism 2 on worker threads with checkpoints and
 * failures injected; restored from a retained checkpoint of a cancelled run — and the results
 * must be identical. At-least-once may repeat records but never loses one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runJob, startJob } from '../../src/testing/index.ts';

const N = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'weir-golden-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Rec = readonly unknown[];
const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();
/** Records emitted once at the end of input (event-time timers at end of input, totals). */
const isFinal = (r: Rec): boolean => r[0] === 'stats' || r[0] === 'co' || r[0] === 'union-total';

function opts(o: Record<string, unknown>): string {
  return JSON.stringify({ dir, throttle: 150, ...o });
}

const straight = new Map<string, string[]>();
async function straightRun(variant: string): Promise<string[]> {
  let r = straight.get(variant);
  if (!r) {
    r = canon((await runJob('test/jobs/golden.ts', { args: [variant, String(N), '{}'], parallelism: 1, mode: 'inline' })).collected);
    straight.set(variant, r);
  }
  return r;
}

for (const variant of ['keyed', 'union', 'connect']) {
  describe(`golden: ${variant}`, () => {
    it('with checkpoints and failures in a source, an operator and the sink (p=2, threads) gives exactly the straight result', async () => {
      const expected = await straightRun(variant);
      // The connect pipeline emits one record per 100 inputs, so its later points see fewer records.
      const few = variant === 'connect';
      // Each fault waits for a completed checkpoint of its attempt, so every restart restores one;
      // the thresholds are small and the sources slow (50 records/ms, 600 ms for a whole run),
      // so that every attempt outlives its fault even when checkpoints are slow to complete.
      const faults = [
        { at: 'source', attempt: 0, after: 3_000, subtask: 1, checkpointed: true },
        { at: 'operator', attempt: 1, after: few ? 50 : 2_000, checkpointed: true },
        { at: 'sink', attempt: 2, after: few ? 100 : 300, checkpointed: true },
      ];
      const client = await startJob('test/jobs/golden.ts', { args: [variant, String(N), opts({ interval: 25, faults, throttle: 50 })], parallelism: 2 });
      const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
      const got = canon([...result.collected.values()].flat());
      assert.equal(await client.getNumRestarts(), 3, 'each injected fault caused one restart');
      assert.equal(got.length, expected.length, 'no record lost or repeated');
      assert.deepEqual(got, expected);
      const stats = await client.getCheckpointStats();
      assert.equal(stats!.counts.restored, 3, `every restart restored a checkpoint: ${JSON.stringify(stats!.counts)}`);
    });

    it('restored from a retained checkpoint of a cancelled run, the final results equal the straight ones', async () => {
      const expected = (await straightRun(variant)).filter((s) => isFinal(JSON.parse(s) as Rec));
      const first = await startJob('test/jobs/golden.ts', {
        args: [variant, String(N), opts({ interval: 60_000, retain: true, throttle: 10, source: 'function' })],
        parallelism: 2,
        mode: 'inline',
      });
      await new Promise((r) => setTimeout(r, 150));
      const chk = await first.triggerCheckpoint();
      await first.cancel();
      await assert.rejects(first.getJobExecutionResult(), /cancelled/);
      assert.ok(existsSync(join(chk, '_metadata')), 'RETAIN_ON_CANCELLATION keeps the checkpoint');
      const second = await runJob('test/jobs/golden.ts', {
        args: [variant, String(N), opts({ interval: 50, source: 'function' })],
        parallelism: 2,
        mode: 'inline',
        config: { 'execution.savepoint.path': chk },
      });
      const all = second.collected as Rec[];
      assert.deepEqual(canon(all.filter(isFinal)), expected);
      // Running counts after the restore continue from the checkpointed ones: per key, a gapless
      // run of multiples of the step up to the final count, with no value twice.
      const runs = new Map<string, number[]>();
      for (const r of all.filter((x) => !isFinal(x))) {
        const k = `${String(r[0])}/${String(r[1])}`;
        const v = Number(r[r.length - 1]);
        runs.set(k, [...(runs.get(k) ?? []), v]);
      }
      assert.ok(runs.size > 0, 'the restored run emitted running counts');
      for (const [k, vs] of runs) {
        vs.sort((a, b) => a - b);
        const step = k.startsWith('count') ? 10 : k.startsWith('union') ? 50 : 100;
        for (let i = 1; i < vs.length; i++) assert.equal(vs[i]! - vs[i - 1]!, step, `${k}: ${vs.slice(0, 5).join(',')}…`);
      }
    });
  });
}

describe('golden: at-least-once', () => {
  it('with failures may repeat records but never loses one', async () => {
    const expected = await straightRun('union');
    const faults = [{ at: 'operator', attempt: 0, after: 20_000 }];
    const { collected } = await runJob('test/jobs/golden.ts', {
      args: ['union', String(N), opts({ interval: 20, mode: 'AT_LEAST_ONCE', faults })],
      parallelism: 2,
      mode: 'inline',
    });
    // Repeated records raise the counts past the total, so only running counts are compared: each
    // is reached at least once.
    const got = new Set(canon(collected));
    const running = expected.filter((s) => !isFinal(JSON.parse(s) as Rec));
    assert.ok(running.length > 1000);
    for (const e of running) assert.ok(got.has(e), `lost ${e}`);
  });
});
