/**
 * The shared benchmark harness: runs a weir job module (through weir/testing's runJob, the path
 * `weir run` takes) next to a plain Node loop doing the same computation, takes medians, samples
 * RSS, and formats the results.
 *
 * A benchmark describes one or more configurations (mode, parallelism, records) of a job; the
 * harness measures them interleaved, so that drift on a noisy machine hits all of them alike:
 *   1. one warm-up run of each configuration (weir and plain loop), not recorded;
 *   2. `runs` runs of each configuration with a single record: the fixed cost of a job
 *      (graph building, worker start-up and module re-import in threads mode, shutdown);
 *   3. `runs` measured rounds, each running every configuration once, then its plain loop once.
 * Every run's output is checked, so a fast but wrong engine cannot report a figure.
 */
import { BroadcastChannel, Worker } from 'node:worker_threads';
import { runJob } from 'weir/testing';
import { channelName, type ExecReport, type Report, type SinkReport } from './jobs/common.ts';

export type Mode = 'inline' | 'threads';

export interface BenchOptions {
  readonly quick: boolean;
  /** Measured runs per figure (after one warm-up). */
  readonly runs: number;
  /** Progress output (stderr). */
  readonly log: (line: string) => void;
}

export interface Benchmark {
  readonly name: string;
  readonly summary: string;
  /** Extra Node options for the child process that runs the benchmark (e.g. a larger heap). */
  readonly execArgv?: (options: { readonly quick: boolean }) => readonly string[];
  run(options: BenchOptions): Promise<(Row | DetailRow)[]>;
}

/** What the counting sink(s) saw, or what the plain loop computed in their place. */
export interface Totals {
  readonly count: number;
  readonly max: number;
}

export interface Config {
  /** Path of the job module (absolute, or relative to the working directory). */
  readonly job: string;
  readonly mode: Mode;
  readonly parallelism: number;
  /** Records per measured run. */
  readonly n: number;
  /** Shown next to the mode in the table, e.g. "baseline". */
  readonly label?: string;
}

export interface Check {
  /** The totals a correct run over 1..n yields. */
  expected(n: number): Totals;
  /** The same computation as the job, as a plain loop over 1..n. */
  plain(n: number): Totals;
}

/** One weir run as seen from inside the job module (see jobs/common.ts). */
export interface JobRun {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly netRuntimeMs: number;
  readonly totals: Totals;
}

/** Every raw figure of one configuration, plus the derived ones the table shows. */
export interface Row {
  readonly benchmark: string;
  readonly mode: Mode;
  readonly label: string | undefined;
  readonly parallelism: number;
  readonly n: number;
  readonly runs: number;
  /** Per measured run: wall time of execute(), process CPU time over it, the result's netRuntime. */
  readonly weirWallMs: number[];
  readonly weirCpuMs: number[];
  readonly weirNetRuntimeMs: number[];
  /** Per measured run of the plain loop over the same n. */
  readonly plainMs: number[];
  /** Per run of the job with n = 1 (wall time of execute()). */
  readonly fixedOverheadMs: number[];
  /** Highest process RSS sampled during the measured weir runs of this configuration. */
  readonly peakRssBytes: number;
  /** Process RSS when the benchmark started (before its first job), for reference. */
  readonly startRssBytes: number;
  readonly weirRecordsPerSec: number;
  readonly plainRecordsPerSec: number;
  /** weirRecordsPerSec / plainRecordsPerSec. */
  readonly ratio: number;
  readonly fixedOverheadMedianMs: number;
  /** n / (median wall - median fixed overhead): the rate once the job is running. */
  readonly weirRecordsPerSecExclOverhead: number;
  /** n / median process CPU time: steadier than wall time where other tenants steal the CPU. */
  readonly weirRecordsPerCpuSec: number;
  /** Median over runs of CPU time / wall time: above 1 means more than one core was busy. */
  readonly cpuPerWall: number;
  /** Set by benchmarks that compare parallelism: rate / rate of the baseline row. */
  scaling?: number;
  scalingExclOverhead?: number;
}

/**
 * Figures that are not throughput (checkpoint pauses, recovery times): a line of a table of its
 * own, titled `table`. `cells` are the displayed columns in order; `figures` every raw figure
 * behind them (per run where there are runs), for the results file.
 */
export interface DetailRow {
  readonly kind: 'detail';
  readonly benchmark: string;
  readonly table: string;
  readonly mode: Mode;
  readonly parallelism: number;
  readonly runs: number;
  readonly cells: Readonly<Record<string, string>>;
  readonly figures: Readonly<Record<string, unknown>>;
}

export function isDetailRow(row: Row | DetailRow): row is DetailRow {
  return (row as Partial<DetailRow>).kind === 'detail';
}

// ---- statistics and sampling ---------------------------------------------------------------

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Polls process.memoryUsage().rss every 50 ms (an unref'd interval) and keeps the peak since reset(). */
export class RssSampler {
  #peak = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
    this.sample();
  }

  sample(): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.#peak) this.#peak = rss;
  }

  reset(): void {
    this.#peak = 0;
    this.sample();
  }

  get peak(): number {
    this.sample();
    return this.#peak;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * How many cores this process can get right now: `threads` worker threads spin for `ms` and the
 * process's CPU time over the wall time is returned (2 on an idle 2-core machine). On a shared
 * machine this is what a parallelism-2 job can hope for, so it is printed next to the results.
 */
export async function parallelCapacity(threads = 2, ms = 500): Promise<number> {
  const spin = `const end = Date.now() + ${ms}; while (Date.now() < end); require('node:worker_threads').parentPort.postMessage(0);`;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: threads }, () => new Promise((resolve, reject) => new Worker(spin, { eval: true }).once('message', resolve).once('error', reject))),
  );
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / wall;
}

// ---- running -------------------------------------------------------------------------------

let runCounter = 0;

/**
 * Runs the job module once over 1..n and returns its figures, as reported from inside the job
 * (execute() timing) and by its sink instances (totals). Waits briefly for the sink reports,
 * which travel on their own channel and may arrive after the job result.
 */
export async function runWeir(config: Config, n: number = config.n): Promise<JobRun> {
  const runId = `${process.pid}-${++runCounter}`;
  const channel = new BroadcastChannel(channelName(runId));
  const sinks: SinkReport[] = [];
  let exec: ExecReport | undefined;
  let wake: () => void = () => {};
  channel.onmessage = (event) => {
    const report = event.data as Report;
    if (report.type === 'sink') sinks.push(report);
    else exec = report;
    wake();
  };
  const complete = (): boolean => exec !== undefined && sinks.length > 0 && sinks.length === sinks[0]!.subtasks;
  try {
    await runJob(config.job, { args: [String(n), runId], mode: config.mode, parallelism: config.parallelism });
    const deadline = Date.now() + 5000;
    while (!complete()) {
      if (Date.now() > deadline) {
        throw new Error(`${config.job}: the job finished but its reports did not arrive (exec: ${exec !== undefined}, sinks: ${sinks.length})`);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  } finally {
    channel.close();
  }
  const e = exec!;
  const totals = { count: sinks.reduce((a, s) => a + s.count, 0), max: Math.max(...sinks.map((s) => s.max)) };
  return { wallMs: e.wallMs, cpuMs: e.cpuMs, netRuntimeMs: e.netRuntimeMs, totals };
}

/** Times one call of the plain loop. */
export function timePlain(check: Check, n: number): { ms: number; totals: Totals } {
  const t0 = performance.now();
  const totals = check.plain(n);
  return { ms: performance.now() - t0, totals };
}

function verify(what: string, n: number, check: Check, got: Totals): void {
  const want = check.expected(n);
  if (got.count !== want.count || got.max !== want.max) {
    throw new Error(`${what} over 1..${n} is wrong: got count ${got.count}, max ${got.max}; expected count ${want.count}, max ${want.max}`);
  }
}

function describe(c: Config): string {
  return `${c.mode} p=${c.parallelism}${c.label ? ` (${c.label})` : ''}`;
}

/** Figures a benchmark gathered for one configuration, per measured run. */
export interface RunFigures {
  readonly wall: number[];
  readonly cpu: number[];
  readonly net: number[];
  readonly plain: number[];
  readonly fixed: number[];
  readonly peakRss: number;
}

/** The table row of one configuration: medians of its runs and the rates derived from them. */
export function rowOf(
  benchmark: string,
  c: { readonly mode: Mode; readonly label?: string | undefined; readonly parallelism: number; readonly n: number },
  runs: number,
  f: RunFigures,
  startRssBytes: number,
): Row {
  const wall = median(f.wall);
  const fixed = median(f.fixed);
  const weirRecordsPerSec = c.n / (wall / 1000);
  const plainRecordsPerSec = c.n / (median(f.plain) / 1000);
  return {
    benchmark,
    mode: c.mode,
    label: c.label,
    parallelism: c.parallelism,
    n: c.n,
    runs,
    weirWallMs: f.wall,
    weirCpuMs: f.cpu,
    weirNetRuntimeMs: f.net,
    plainMs: f.plain,
    fixedOverheadMs: f.fixed,
    peakRssBytes: f.peakRss,
    startRssBytes,
    weirRecordsPerSec,
    plainRecordsPerSec,
    ratio: weirRecordsPerSec / plainRecordsPerSec,
    fixedOverheadMedianMs: fixed,
    weirRecordsPerSecExclOverhead: wall > fixed ? c.n / ((wall - fixed) / 1000) : NaN,
    weirRecordsPerCpuSec: c.n / (median(f.cpu) / 1000),
    cpuPerWall: median(f.cpu.map((cpu, k) => cpu / f.wall[k]!)),
  };
}

/** Measures the configurations of one benchmark interleaved (see the top of this file). */
export async function measure(benchmark: string, configs: readonly Config[], check: Check, options: BenchOptions): Promise<Row[]> {
  const { runs, log } = options;
  const rss = new RssSampler();
  const startRssBytes = rss.peak;
  const raw = configs.map(() => ({ wall: [] as number[], cpu: [] as number[], net: [] as number[], plain: [] as number[], fixed: [] as number[], peakRss: 0 }));
  try {
    for (const c of configs) {
      const w = await runWeir(c);
      verify(`${benchmark} ${describe(c)}`, c.n, check, w.totals);
      const p = timePlain(check, c.n);
      verify(`${benchmark} plain loop`, c.n, check, p.totals);
      log(`[${benchmark}] ${describe(c)}: warm-up ${w.wallMs.toFixed(0)} ms (plain ${p.ms.toFixed(1)} ms)`);
    }
    for (const [i, c] of configs.entries()) {
      for (let r = 0; r < runs; r++) {
        const w = await runWeir(c, 1);
        verify(`${benchmark} ${describe(c)}`, 1, check, w.totals);
        raw[i]!.fixed.push(w.wallMs);
      }
      log(`[${benchmark}] ${describe(c)}: fixed overhead (N=1) ${raw[i]!.fixed.map((x) => x.toFixed(0)).join(', ')} ms`);
    }
    for (let r = 0; r < runs; r++) {
      for (const [i, c] of configs.entries()) {
        const figures = raw[i]!;
        rss.reset();
        const w = await runWeir(c);
        figures.peakRss = Math.max(figures.peakRss, rss.peak);
        verify(`${benchmark} ${describe(c)}`, c.n, check, w.totals);
        figures.wall.push(w.wallMs);
        figures.cpu.push(w.cpuMs);
        figures.net.push(w.netRuntimeMs);
        const p = timePlain(check, c.n);
        figures.plain.push(p.ms);
        log(
          `[${benchmark}] ${describe(c)}: run ${r + 1}/${runs} ${w.wallMs.toFixed(0)} ms, cpu ${w.cpuMs.toFixed(0)} ms (plain ${p.ms.toFixed(1)} ms)`,
        );
      }
    }
  } finally {
    rss.stop();
  }
  return configs.map((c, i) => rowOf(benchmark, c, runs, raw[i]!, startRssBytes));
}

// ---- output --------------------------------------------------------------------------------

/** 1234567 → "1.23 M", 98765 → "98.8 k". */
export function formatRate(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x >= 1e9) return `${(x / 1e9).toPrecision(3)} G`;
  if (x >= 1e6) return `${(x / 1e6).toPrecision(3)} M`;
  if (x >= 1e3) return `${(x / 1e3).toPrecision(3)} k`;
  return x.toPrecision(3);
}

function formatRatio(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x >= 0.1 ? x.toFixed(2) : `${x.toPrecision(2)} (1/${Math.round(1 / x)})`;
}

function formatCount(n: number): string {
  return n >= 1e6 && n % 1e5 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 100 === 0 ? `${n / 1e3}k` : String(n);
}

/**
 * The detail rows as markdown tables, one per title in order of first appearance; a table's
 * columns are the union of its rows' cells, in order of first appearance. Cells that look like
 * figures are right-aligned.
 */
export function formatDetailTables(rows: readonly DetailRow[]): string {
  const titles = [...new Set(rows.map((r) => r.table))];
  return titles
    .map((title) => {
      const group = rows.filter((r) => r.table === title);
      const header = [...new Set(group.flatMap((r) => Object.keys(r.cells)))];
      const lines = group.map((r) => header.map((h) => r.cells[h] ?? '–'));
      const right = header.map((_, i) => lines.every((l) => /^[-–+]?[0-9.]/.test(l[i]!) || l[i] === '–'));
      const widths = header.map((h, i) => Math.max(3, h.length, ...lines.map((l) => l[i]!.length)));
      const fmt = (cells: readonly string[]) => `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
      const rule = `| ${widths.map((w, i) => (right[i] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
      return [`${title}:`, '', fmt(header), rule, ...lines.map(fmt)].join('\n');
    })
    .join('\n\n');
}

/** One markdown table, one line per row. */
export function formatTable(rows: readonly Row[]): string {
  const header = [
    'benchmark',
    'mode',
    'p',
    'N',
    'weir rec/s',
    'plain loop rec/s',
    'weir/plain',
    'fixed overhead (N=1)',
    'weir rec/s excl. overhead',
    'weir rec/CPU-s',
    'CPU/wall',
    'vs baseline row',
    'peak RSS',
  ];
  const lines = rows.map((r) => [
    r.benchmark,
    r.label ? `${r.mode} (${r.label})` : r.mode,
    String(r.parallelism),
    formatCount(r.n),
    formatRate(r.weirRecordsPerSec),
    formatRate(r.plainRecordsPerSec),
    formatRatio(r.ratio),
    `${r.fixedOverheadMedianMs.toFixed(r.fixedOverheadMedianMs < 10 ? 1 : 0)} ms`,
    formatRate(r.weirRecordsPerSecExclOverhead),
    formatRate(r.weirRecordsPerCpuSec),
    r.cpuPerWall.toFixed(2),
    r.scaling === undefined ? '–' : `${r.scaling.toFixed(2)}× (${r.scalingExclOverhead?.toFixed(2) ?? '–'}× excl. overhead)`,
    `${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  ]);
  const right = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
  const widths = header.map((h, i) => Math.max(3, h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right.has(i) ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
  return [fmt(header), rule, ...lines.map(fmt)].join('\n');
}

/**
 * How checkpoints that end with the bounded input fail (Flink's CHECKPOINT_COORDINATOR_SHUTDOWN
 * and NOT_ALL_REQUIRED_TASKS_RUNNING), as the checkpoint statistics word them.
 */
const END_OF_INPUT_FAILURES: readonly string[] = ['CheckpointCoordinator shutdown.', 'Not all required tasks are currently running.'];

/**
 * The failed checkpoints of a bounded benchmark run that are failures of checkpointing, as
 * "checkpoint <id>: <reason>". Left out: one still in flight when the job finished (aborted by
 * the coordinator's shutdown), and one triggered after a source subtask ran out of input
 * (declined because not every task is running) — both only say that the input ended.
 */
export function realCheckpointFailures(stats: CheckpointStatsLike | undefined): string[] {
  return (stats?.history ?? [])
    .filter((h) => h.status === 'FAILED' && !END_OF_INPUT_FAILURES.some((m) => (h.failure_message ?? '').startsWith(m)))
    .map((h) => `checkpoint ${h.id}: ${h.failure_message ?? 'no reason given'}`);
}

/** The part of JobClient.getCheckpointStats()'s result that realCheckpointFailures reads. */
export interface CheckpointStatsLike {
  readonly history: readonly { readonly id: number; readonly status: string; readonly failure_message?: string | null }[];
}
