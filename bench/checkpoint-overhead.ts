/**
 * checkpoint-overhead: the keyed-count job at parallelism 1 with exactly-once checkpoints every
 * second against the same job with checkpointing off, inline and in threads mode.
 *
 * Measured like the other benchmarks (harness.ts: one warm-up of each configuration, the fixed
 * cost with N=1, then `runs` rounds that run every configuration once, alternating off and on,
 * each followed by its plain loop), but through startJob so that every run's checkpoint
 * statistics can be read: a run counts only if its checkpoints completed, and the table shows
 * how many did. N is chosen so that a run processes for more than 5 s (quick: about 1.5 s, one
 * or two checkpoints). Each run with checkpoints writes them to a fresh directory under
 * os.tmpdir(), removed after the run.
 *
 * The "vs baseline row" column of the checkpointed row is its rate over the rate without
 * checkpoints (median of runs each); the figures file also has the median of the per-round ratios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import type { JobClient } from 'weir';
import { startJob } from 'weir/testing';
import { median, realCheckpointFailures, rowOf, RssSampler, timePlain, type Benchmark, type BenchOptions, type JobRun, type Mode, type Row } from './harness.ts';
import { channelName, type ExecReport, type Report, type SinkReport } from './jobs/common.ts';
import { keyedCountCheck } from './keyed-count.ts';

const job = fileURLToPath(new URL('./jobs/checkpoint-keyed-count.ts', import.meta.url));

/** The checkpoint interval of the checkpointed configurations, ms. */
const INTERVAL_MS = 1000;

interface OverheadConfig {
  readonly mode: Mode;
  /** 0: checkpointing off. */
  readonly intervalMs: number;
  readonly n: number;
}

interface CheckpointCounts {
  readonly completed: number;
  readonly failed: number;
  /** End-to-end durations of the completed checkpoints in the stats history (newest 10). */
  readonly endToEndMs: number[];
}

interface OverheadRow extends Row {
  readonly checkpointIntervalMs: number;
  /** Per measured run. */
  readonly checkpointsCompleted: number[];
  readonly checkpointEndToEndMs: number[][];
  /** On the checkpointed row: median over rounds of (rate with checkpoints / rate without) from the same round. */
  readonly pairedRatio?: number;
}

let runCounter = 0;

function describe(c: OverheadConfig): string {
  return `${c.mode} p=1 (${c.intervalMs > 0 ? `checkpoints every ${c.intervalMs} ms` : 'checkpoints off'})`;
}

/** One run of the job over 1..n: its figures as reported from inside, and its checkpoint counts. */
async function runOnce(c: OverheadConfig, n: number): Promise<{ run: JobRun; checkpoints: CheckpointCounts }> {
  const runId = `${process.pid}-overhead-${++runCounter}`;
  const channel = new BroadcastChannel(channelName(runId));
  const sinks: SinkReport[] = [];
  let exec: ExecReport | undefined;
  channel.onmessage = (event) => {
    const report = (event as { data: Report }).data;
    if (report.type === 'sink') sinks.push(report);
    else exec = report;
  };
  const dir = c.intervalMs > 0 ? mkdtempSync(join(tmpdir(), 'weir-bench-checkpoints-')) : undefined;
  try {
    const client: JobClient = await startJob(job, {
      args: [String(n), runId, String(c.intervalMs), ...(dir === undefined ? [] : [dir])],
      mode: c.mode,
      parallelism: 1,
    });
    await client.getJobExecutionResult();
    const stats = await client.getCheckpointStats();
    const deadline = Date.now() + 5000;
    while (exec === undefined || sinks.length === 0) {
      if (Date.now() > deadline) throw new Error(`${describe(c)}: the job finished but its reports did not arrive`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const e = exec as ExecReport;
    const totals = { count: sinks.reduce((a, s) => a + s.count, 0), max: Math.max(...sinks.map((s) => s.max)) };
    const want = keyedCountCheck.expected(n);
    if (totals.count !== want.count || totals.max !== want.max) {
      throw new Error(`${describe(c)} over 1..${n} is wrong: got count ${totals.count}, max ${totals.max}; expected ${want.count}, ${want.max}`);
    }
    const checkpoints: CheckpointCounts = {
      completed: stats?.counts.completed ?? 0,
      failed: realCheckpointFailures(stats).length,
      endToEndMs: (stats?.history ?? []).filter((h) => h.status === 'COMPLETED').map((h) => h.end_to_end_duration).reverse(),
    };
    return { run: { wallMs: e.wallMs, cpuMs: e.cpuMs, netRuntimeMs: e.netRuntimeMs, totals }, checkpoints };
  } finally {
    channel.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

async function measureOverhead(configs: readonly OverheadConfig[], options: BenchOptions): Promise<OverheadRow[]> {
  const { runs, log } = options;
  const name = 'checkpoint-overhead';
  const rss = new RssSampler();
  const startRssBytes = rss.peak;
  const raw = configs.map(() => ({
    wall: [] as number[],
    cpu: [] as number[],
    net: [] as number[],
    plain: [] as number[],
    fixed: [] as number[],
    peakRss: 0,
    completed: [] as number[],
    e2e: [] as number[][],
  }));
  try {
    for (const c of configs) {
      const { run, checkpoints } = await runOnce(c, c.n);
      const p = timePlain(keyedCountCheck, c.n);
      log(`[${name}] ${describe(c)}: warm-up ${run.wallMs.toFixed(0)} ms, ${checkpoints.completed} checkpoints (plain ${p.ms.toFixed(1)} ms)`);
    }
    for (const [i, c] of configs.entries()) {
      for (let r = 0; r < runs; r++) raw[i]!.fixed.push((await runOnce(c, 1)).run.wallMs);
      log(`[${name}] ${describe(c)}: fixed overhead (N=1) ${raw[i]!.fixed.map((x) => x.toFixed(0)).join(', ')} ms`);
    }
    for (let r = 0; r < runs; r++) {
      for (const [i, c] of configs.entries()) {
        const f = raw[i]!;
        rss.reset();
        const { run, checkpoints } = await runOnce(c, c.n);
        f.peakRss = Math.max(f.peakRss, rss.peak);
        if (c.intervalMs > 0 && (checkpoints.completed === 0 || checkpoints.failed > 0)) {
          throw new Error(`${describe(c)}: ${checkpoints.completed} checkpoints completed and ${checkpoints.failed} failed during the run`);
        }
        f.wall.push(run.wallMs);
        f.cpu.push(run.cpuMs);
        f.net.push(run.netRuntimeMs);
        f.completed.push(checkpoints.completed);
        f.e2e.push(checkpoints.endToEndMs);
        const p = timePlain(keyedCountCheck, c.n);
        f.plain.push(p.ms);
        log(
          `[${name}] ${describe(c)}: run ${r + 1}/${runs} ${run.wallMs.toFixed(0)} ms, cpu ${run.cpuMs.toFixed(0)} ms, ` +
            `${checkpoints.completed} checkpoints (end-to-end ${checkpoints.endToEndMs.join(', ') || '–'} ms) (plain ${p.ms.toFixed(1)} ms)`,
        );
      }
    }
  } finally {
    rss.stop();
  }
  const rows = configs.map((c, i): OverheadRow => {
    const f = raw[i]!;
    const completed = median(f.completed);
    const label = c.intervalMs > 0 ? `exactly-once every ${c.intervalMs / 1000} s, ${completed} checkpoint${completed === 1 ? '' : 's'}` : 'checkpoints off';
    return {
      ...rowOf(name, { mode: c.mode, label, parallelism: 1, n: c.n }, runs, f, startRssBytes),
      checkpointIntervalMs: c.intervalMs,
      checkpointsCompleted: f.completed,
      checkpointEndToEndMs: f.e2e,
    };
  });
  // Each checkpointed row against the row without checkpoints of the same mode.
  return rows.map((row, i) => {
    if (row.checkpointIntervalMs === 0) return row;
    const j = rows.findIndex((b) => b.mode === row.mode && b.checkpointIntervalMs === 0);
    const base = rows[j]!;
    const pairedRatio = median(raw[j]!.wall.map((w, r) => w / raw[i]!.wall[r]!));
    log(
      `[${name}] ${row.mode}: with checkpoints / without = ${(row.weirRecordsPerSec / base.weirRecordsPerSec).toFixed(3)} ` +
        `(median of per-round ratios ${pairedRatio.toFixed(3)})`,
    );
    return {
      ...row,
      scaling: row.weirRecordsPerSec / base.weirRecordsPerSec,
      scalingExclOverhead: row.weirRecordsPerSecExclOverhead / base.weirRecordsPerSecExclOverhead,
      pairedRatio,
    };
  });
}

export const checkpointOverhead: Benchmark = {
  name: 'checkpoint-overhead',
  summary: 'keyed-count p=1 with exactly-once checkpoints every 1 s vs off, inline and threads',
  run(options) {
    // About 9 M rec/s inline and 6.5 M rec/s in threads mode on the development machine.
    const n = options.quick ? 15_000_000 : 60_000_000;
    return measureOverhead(
      [
        { mode: 'inline', intervalMs: 0, n },
        { mode: 'inline', intervalMs: INTERVAL_MS, n },
        { mode: 'threads', intervalMs: 0, n },
        { mode: 'threads', intervalMs: INTERVAL_MS, n },
      ],
      options,
    );
  },
};
