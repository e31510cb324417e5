/**
 * checkpoint-pause: the longest processing pause a checkpoint causes, at 10 MB, 100 MB and 1 GB
 * of keyed heap state (quick: 10 MB and 100 MB).
 *
 * The job (jobs/checkpoint-state.ts, threads mode, parallelism 1: what `weir run` does) builds
 * the state, then processes a steady stream of records. A checkpoint is triggered several times
 * (client.triggerCheckpoint()), with a quiet stretch before each. The keyed function notes every
 * gap between two consecutive records; for each checkpoint the benchmark takes
 *   - the longest gap in the checkpoint's window: from the trigger to its completion (the later
 *     of the trigger call resolving and the keyed function hearing of it) plus WINDOW_TAIL_MS;
 *   - the longest gap in a window of the same length without a checkpoint, ending GUARD_MS
 *     before the trigger (the baseline jitter: event loop, GC, other tenants of the machine);
 * and the checkpoint's end-to-end, sync, async and alignment durations and state size from
 * getCheckpointStats(). On Linux it also reports how long the job's worker thread was ready to run
 * but had no CPU, during the checkpoints and during the quiet stretches. The worker's GC entries
 * (perf_hooks) are in the figures file; they miss marking work V8 does in steps on the thread.
 * The checkpoint directory is a fresh one under os.tmpdir(), removed after.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BroadcastChannel } from 'node:worker_threads';
import type { JobClient } from 'weir';
import { startJob } from 'weir/testing';
import { median, RssSampler, type Benchmark, type BenchOptions, type DetailRow } from './harness.ts';
import {
  absNow,
  commandChannel,
  Inbox,
  STATE_100MB,
  STATE_10MB,
  STATE_1GB,
  stateJobArgv,
  type StateJobReport,
  type StateSize,
} from './jobs/checkpoint-common.ts';

export const checkpointStateJob = fileURLToPath(new URL('./jobs/checkpoint-state.ts', import.meta.url));

/** Records per second of the steady stream. */
export const STEADY_RATE = 100_000;
/** Time after the build phase before the first quiet stretch, for its garbage to be collected. */
const SETTLE_MS = 1000;
/** A checkpoint's window goes on this long after its completion. */
const WINDOW_TAIL_MS = 100;
/** Between the baseline window and the trigger. */
const GUARD_MS = 100;

type CheckpointStats = NonNullable<Awaited<ReturnType<JobClient['getCheckpointStats']>>>;
type Entry = CheckpointStats['history'][number];
type GapsReport = Extract<StateJobReport, { type: 'gaps' }>;

/**
 * CPU time and run-queue wait of every thread of this process so far (Linux
 * /proc/self/task/<tid>/schedstat, ns), or undefined where that is not available. The busiest
 * thread of a run is the job's worker; its wait is time it was ready to run but had no CPU.
 */
function schedStats(): Map<string, { runNs: number; waitNs: number }> | undefined {
  try {
    const out = new Map<string, { runNs: number; waitNs: number }>();
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
        out.set(tid, { runNs: run!, waitNs: wait! });
      } catch {
        // the thread ended meanwhile
      }
    }
    return out.size > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}

type SchedStats = ReturnType<typeof schedStats>;

/** CPU and wait of thread `tid` between two samples, ms. */
function schedDelta(a: SchedStats, b: SchedStats, tid: string | undefined): { runMs: number; waitMs: number } | undefined {
  const x = tid === undefined ? undefined : a?.get(tid);
  const y = tid === undefined ? undefined : b?.get(tid);
  return x && y ? { runMs: (y.runNs - x.runNs) / 1e6, waitMs: (y.waitNs - x.waitNs) / 1e6 } : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Per checkpoint: what the stats say, and the gaps in its window and its baseline window. */
interface CheckpointFigures {
  readonly id: number;
  readonly triggerAt: number;
  readonly resolvedAt: number;
  readonly snapshotAt: number | undefined;
  readonly completeAt: number | undefined;
  readonly windowMs: number;
  readonly baselineMs: number;
  readonly longestGapMs: number;
  /** Where the longest gap started, ms after the trigger. */
  readonly longestGapAtMs: number;
  /** GC time of the worker that overlaps the longest gap, ms, all kinds and major (mark-compact) only. */
  readonly longestGapGcMs: number;
  readonly longestGapMajorGcMs: number;
  /**
   * The longest of the window's gaps less the GC pauses perf_hooks reported within each. Not the
   * engine's own share: marking work V8 does in steps on the thread (incremental marking) is not
   * reported as a GC entry.
   */
  readonly longestLessReportedGcMs: number;
  /** GC time of the worker in the window and in the baseline window, ms: [minor (scavenge), major]. */
  readonly windowGcMs: [number, number];
  readonly baselineGcMs: [number, number];
  readonly gapsOver5Ms: number;
  readonly gapsOver10Ms: number;
  readonly baselineLongestGapMs: number;
  readonly baselineGapsOver5Ms: number;
  readonly baselineGapsOver10Ms: number;
  /** The five longest gaps of the window: [ms after the trigger, length, GC overlap]. */
  readonly topGaps: [number, number, number][];
  readonly endToEndMs: number;
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly alignmentMs: number;
  readonly stateBytes: number;
  /** CPU time and run-queue wait of the job's worker thread from trigger to completion, and over the quiet stretch before (Linux only). */
  readonly workerDuringCheckpoint: { runMs: number; waitMs: number } | undefined;
  readonly workerDuringQuiet: { runMs: number; waitMs: number } | undefined;
}

/** perf_hooks' constants.NODE_PERFORMANCE_GC_MINOR and _MAJOR. */
const GC_MINOR = 1;
const GC_MAJOR = 4;

function overlap(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
}

/** Gaps [start, length] of `report` that overlap [from, to], longest first. */
function gapsIn(report: GapsReport, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  const g = report.gaps;
  for (let i = 0; i < g.length; i += 2) {
    const start = g[i]!;
    const length = g[i + 1]!;
    if (start < to && start + length > from) out.push([start, length]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

/** GC time of the worker within [from, to], ms; with `kind`, only collections of that kind (1 minor, 4 major). */
function gcDuring(report: GapsReport, from: number, to: number, kind?: number): number {
  let total = 0;
  const gc = report.gc;
  for (let i = 0; i < gc.length; i += 3) {
    if (kind === undefined || gc[i + 2] === kind) total += overlap(gc[i]!, gc[i]! + gc[i + 1]!, from, to);
  }
  return total;
}

function maxOf(values: readonly number[]): number {
  return values.length === 0 ? 0 : Math.max(...values);
}

export interface StateRun {
  readonly client: JobClient;
  readonly inbox: Inbox;
  readonly commands: BroadcastChannel;
  readonly dir: string;
  readonly startAt: number;
  readonly builtAt: number;
  /** Stops the job and removes its checkpoint directory. */
  stop(): Promise<void>;
}

/** Starts the keyed-state job in threads mode at parallelism 1 and waits until its state is built. */
export async function startStateJob(size: StateSize, runId: string, restarts: number, log: (line: string) => void, config: Record<string, unknown> = {}): Promise<StateRun> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-checkpoints-'));
  const inbox = new Inbox(runId);
  const commands = commandChannel(runId);
  let client: JobClient | undefined;
  const stop = async (): Promise<void> => {
    try {
      if (client && !['FINISHED', 'FAILED', 'CANCELED'].includes(await client.getJobStatus())) await client.cancel();
    } finally {
      inbox.close();
      commands.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const startAt = absNow();
    client = await startJob(checkpointStateJob, {
      args: stateJobArgv({ runId, keys: size.keys, dir, rate: STEADY_RATE, restarts }),
      mode: 'threads',
      parallelism: 1,
      config,
    });
    client.getJobExecutionResult().catch(() => {});
    const built = await inbox.waitFor('the state to be built', (r): r is Extract<StateJobReport, { type: 'built' }> => r.type === 'built', 600_000);
    log(`  ${size.label}: ${size.keys} keys built in ${((built.at - startAt) / 1000).toFixed(1)} s`);
    return { client, inbox, commands, dir, startAt, builtAt: built.at, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The keyed function's gaps, marks and GC so far (it answers a 'report' command). */
export async function requestGaps(run: StateRun): Promise<GapsReport> {
  const from = run.inbox.reports.length;
  run.commands.postMessage({ type: 'report' });
  return run.inbox.waitFor('the gap report', (r): r is GapsReport => r.type === 'gaps', 60_000, from);
}

export function subtaskFigures(entry: Entry | undefined): { syncMs: number; asyncMs: number; alignmentMs: number } {
  const subtasks = Object.values(entry?.subtasks ?? {});
  return {
    syncMs: maxOf(subtasks.map((s) => s.sync_duration)),
    asyncMs: maxOf(subtasks.map((s) => s.async_duration)),
    alignmentMs: maxOf(subtasks.map((s) => s.alignment_duration)),
  };
}

async function measureSize(size: StateSize, checkpoints: number, options: BenchOptions): Promise<DetailRow> {
  const { log } = options;
  const rss = new RssSampler();
  const runId = `${process.pid}-pause-${size.keys}`;
  const run = await startStateJob(size, runId, 0, log);
  const triggers: { triggerAt: number; resolvedAt: number; quietFrom: number; sched: [SchedStats, SchedStats, SchedStats] }[] = [];
  const schedAtStart = schedStats();
  let report: GapsReport;
  let stats: CheckpointStats | undefined;
  try {
    await sleep(SETTLE_MS);
    let quietFrom = absNow();
    let quietSched = schedStats();
    // How long the first checkpoint's window will be: a guess (about 40 MB/s); later ones take the last one's, plus half.
    let expected = 500 + size.bytes / 40e3;
    for (let k = 0; k < checkpoints; k++) {
      await sleep(quietFrom + expected + GUARD_MS - absNow());
      const triggerSched = schedStats();
      const triggerAt = absNow();
      await run.client.triggerCheckpoint();
      const resolvedAt = absNow();
      const resolvedSched = schedStats();
      triggers.push({ triggerAt, resolvedAt, quietFrom, sched: [quietSched, triggerSched, resolvedSched] });
      log(`  ${size.label}: checkpoint ${k + 1}/${checkpoints} took ${(resolvedAt - triggerAt).toFixed(0)} ms`);
      expected = 1.5 * (resolvedAt - triggerAt + WINDOW_TAIL_MS);
      quietFrom = resolvedAt + WINDOW_TAIL_MS;
      await sleep(WINDOW_TAIL_MS);
      quietSched = schedStats();
    }
    await sleep(WINDOW_TAIL_MS + 100);
    report = await requestGaps(run);
    stats = await run.client.getCheckpointStats();
  } finally {
    await run.stop();
  }
  const peakRss = rss.peak;
  rss.stop();
  // The job's worker: the thread that ran longest over the measured part.
  const last = triggers[triggers.length - 1]?.sched[2];
  let worker: string | undefined;
  let most = -1;
  for (const [tid, v] of last ?? []) {
    const cpu = v.runNs - (schedAtStart?.get(tid)?.runNs ?? 0);
    if (cpu > most) [worker, most] = [tid, cpu];
  }

  const figures: CheckpointFigures[] = triggers.map((t, k) => {
    const id = k + 1;
    const mark = report.marks.find((m) => m.checkpointId === id);
    const entry = stats?.history.find((h) => h.id === id);
    const end = Math.max(t.resolvedAt, mark?.completeAt ?? 0) + WINDOW_TAIL_MS;
    const windowMs = end - t.triggerAt;
    const baselineEnd = t.triggerAt - GUARD_MS;
    const baselineStart = Math.max(t.quietFrom, baselineEnd - windowMs);
    const inWindow = gapsIn(report, t.triggerAt, end);
    const inBaseline = gapsIn(report, baselineStart, baselineEnd);
    const longest = inWindow[0];
    return {
      id,
      triggerAt: t.triggerAt,
      resolvedAt: t.resolvedAt,
      snapshotAt: mark?.snapshotAt,
      completeAt: mark?.completeAt,
      windowMs,
      baselineMs: baselineEnd - baselineStart,
      longestGapMs: longest?.[1] ?? 0,
      longestGapAtMs: longest ? longest[0] - t.triggerAt : NaN,
      longestGapGcMs: longest ? gcDuring(report, longest[0], longest[0] + longest[1]) : 0,
      longestGapMajorGcMs: longest ? gcDuring(report, longest[0], longest[0] + longest[1], GC_MAJOR) : 0,
      longestLessReportedGcMs: maxOf(inWindow.map((g) => g[1] - gcDuring(report, g[0], g[0] + g[1]))),
      windowGcMs: [gcDuring(report, t.triggerAt, end, GC_MINOR), gcDuring(report, t.triggerAt, end, GC_MAJOR)],
      baselineGcMs: [gcDuring(report, baselineStart, baselineEnd, GC_MINOR), gcDuring(report, baselineStart, baselineEnd, GC_MAJOR)],
      gapsOver5Ms: inWindow.filter((g) => g[1] > 5).length,
      gapsOver10Ms: inWindow.filter((g) => g[1] > 10).length,
      baselineLongestGapMs: inBaseline[0]?.[1] ?? 0,
      baselineGapsOver5Ms: inBaseline.filter((g) => g[1] > 5).length,
      baselineGapsOver10Ms: inBaseline.filter((g) => g[1] > 10).length,
      topGaps: inWindow.slice(0, 5).map((g) => [g[0] - t.triggerAt, g[1], gcDuring(report, g[0], g[0] + g[1])]),
      endToEndMs: entry?.end_to_end_duration ?? NaN,
      ...subtaskFigures(entry),
      stateBytes: entry?.state_size ?? NaN,
      workerDuringCheckpoint: schedDelta(t.sched[1], t.sched[2], worker),
      workerDuringQuiet: schedDelta(t.sched[0], t.sched[1], worker),
    };
  });
  for (const f of figures) {
    log(
      `  ${size.label}: checkpoint ${f.id}: longest gap ${f.longestGapMs.toFixed(1)} ms at +${f.longestGapAtMs.toFixed(0)} ms ` +
        `(GC ${f.longestGapGcMs.toFixed(1)} ms, major ${f.longestGapMajorGcMs.toFixed(1)}; less reported GC ${f.longestLessReportedGcMs.toFixed(1)} ms; ` +
        `>10 ms: ${f.gapsOver10Ms}; GC minor/major ${f.windowGcMs.map((x) => x.toFixed(0)).join('/')} ms) in ${f.windowMs.toFixed(0)} ms; baseline ` +
        `${f.baselineLongestGapMs.toFixed(1)} ms (>10 ms: ${f.baselineGapsOver10Ms}; GC ${f.baselineGcMs.map((x) => x.toFixed(0)).join('/')} ms) in ${f.baselineMs.toFixed(0)} ms; ` +
        `e2e ${f.endToEndMs} ms, sync ${f.syncMs} ms, async ${f.asyncMs} ms, ${(f.stateBytes / 1e6).toFixed(1)} MB; ` +
        `worker waited for a CPU ${f.workerDuringCheckpoint?.waitMs.toFixed(0) ?? '–'} ms (quiet stretch before: ${f.workerDuringQuiet?.waitMs.toFixed(0) ?? '–'} ms)`,
    );
  }
  const fmt = (ms: number) => `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
  const pause = maxOf(figures.map((f) => f.longestGapMs));
  const baseline = maxOf(figures.map((f) => f.baselineLongestGapMs));
  return {
    kind: 'detail',
    benchmark: 'checkpoint-pause',
    table: 'checkpoint-pause: longest processing pause while a checkpoint is taken (threads, p=1, steady 100k rec/s)',
    mode: 'threads',
    parallelism: 1,
    runs: figures.length,
    cells: {
      benchmark: 'checkpoint-pause',
      'heap state': size.label,
      keys: size.keys.toLocaleString('en-US'),
      'state size (stats)': `${(median(figures.map((f) => f.stateBytes)) / 1e6).toFixed(1)} MB`,
      checkpoints: String(figures.length),
      'longest pause in a checkpoint window': `${fmt(pause)} (${figures.map((f) => f.longestGapMs.toFixed(1)).join(', ')})`,
      'longest gap without checkpoint': `${fmt(baseline)} (${figures.map((f) => f.baselineLongestGapMs.toFixed(1)).join(', ')})`,
      'gaps > 10 ms, checkpoint / baseline windows': `${figures.reduce((a, f) => a + f.gapsOver10Ms, 0)} / ${figures.reduce((a, f) => a + f.baselineGapsOver10Ms, 0)}`,
      'end-to-end (median)': fmt(median(figures.map((f) => f.endToEndMs))),
      'sync (max)': fmt(maxOf(figures.map((f) => f.syncMs))),
      'async (median)': fmt(median(figures.map((f) => f.asyncMs))),
      'worker waiting for a CPU, checkpoint / quiet': waitShare(figures),
      'peak RSS': `${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    },
    figures: {
      stateLabel: size.label,
      targetBytes: size.bytes,
      keys: size.keys,
      steadyRecordsPerSec: STEADY_RATE,
      buildMs: run.builtAt - run.startAt,
      recordsProcessed: report.records,
      longestPauseMs: pause,
      baselineLongestGapMs: baseline,
      peakRssBytes: peakRss,
      checkpoints: figures,
    },
  };
}

/** The worker thread's run-queue wait as a share of wall time, during the checkpoints and the quiet stretches before them. */
function waitShare(figures: readonly CheckpointFigures[]): string {
  let checkpointWait = 0;
  let checkpointWall = 0;
  let quietWait = 0;
  let quietWall = 0;
  for (const f of figures) {
    if (!f.workerDuringCheckpoint || !f.workerDuringQuiet) return '–';
    checkpointWait += f.workerDuringCheckpoint.waitMs;
    checkpointWall += f.resolvedAt - f.triggerAt;
    quietWait += f.workerDuringQuiet.waitMs;
    // The worker never sleeps (the paced source spins on setImmediate), so its run + wait is the wall time.
    quietWall += f.workerDuringQuiet.runMs + f.workerDuringQuiet.waitMs;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `${pct(checkpointWait / checkpointWall)} / ${pct(quietWait / quietWall)}`;
}

export const checkpointPause: Benchmark = {
  name: 'checkpoint-pause',
  summary: 'longest processing pause caused by a checkpoint of 10 MB, 100 MB, 1 GB keyed heap state, threads p=1',
  execArgv: ({ quick }) => (quick ? [] : ['--max-old-space-size=8192']),
  async run(options) {
    const sizes = options.quick ? [STATE_10MB, STATE_100MB] : [STATE_10MB, STATE_100MB, STATE_1GB];
    const checkpoints = options.quick ? 2 : 3;
    const rows: DetailRow[] = [];
    for (const size of sizes) rows.push(await measureSize(size, checkpoints, options));
    return rows;
  },
};
