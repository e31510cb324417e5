/**
 * user-keyed: keyed jobs as users write them (bench/jobs/user-keyed.ts: a RichMapFunction, a
 * timestamp assigner with bounded-out-of-orderness watermarks, keyBy, a KeyedProcessFunction with
 * two ValueStates and one event-time timer per key), over records that are numbers and records
 * that are Event objects, at 100 keys and 1M keys, at parallelism 1 (inline and threads) and 2
 * (threads), each against a plain Node loop doing the same work in the same process run.
 *
 * Measured as the other benchmarks are (harness.ts), per group of one record kind and key count:
 * one warm-up of each configuration, then `runs` rounds that run every configuration once and
 * the group's plain loop once. Every run is checked: the counts the timers emitted must add up
 * to N and their timestamp sums to the sum of every record's timestamp (see
 * jobs/user-keyed-common.ts for why that is the check that holds whatever the watermark timing).
 * CPU per record is process.cpuUsage() over the execute() call (every thread) divided by N.
 *
 * The runner (`runUserKeyed`) starts the job through startJob so that the checkpoint statistics
 * of a run can be read; user-keyed-checkpoints.ts measures the same jobs with checkpoints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { startJob } from 'weir/testing';
import { formatRate, median, realCheckpointFailures, RssSampler, type Benchmark, type BenchOptions, type DetailRow, type Mode } from './harness.ts';
import { channelName, type ExecReport } from './jobs/common.ts';
import { plainOnThreads } from './plain-threads.ts';
import { plainUserKeyed, type UserKeyedTotals } from './user-keyed-plain.ts';
import {
  mix,
  RECORDS_PER_MS,
  timestampOf,
  type RecordKind,
  type UserKeyedSinkReport,
} from './jobs/user-keyed-common.ts';

export const userKeyedJob = fileURLToPath(new URL('./jobs/user-keyed.ts', import.meta.url));

export interface UserKeyedConfig {
  readonly kind: RecordKind;
  readonly keys: number;
  readonly mode: Mode;
  readonly parallelism: number;
  readonly n: number;
  /** Exactly-once checkpoint interval, ms; 0: checkpointing off. */
  readonly intervalMs: number;
}

export interface UserKeyedRun {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly totals: UserKeyedTotals;
  readonly checkpointsCompleted: number;
  /** Checkpoints that failed for a reason other than the end of the input, as "checkpoint <id>: <reason>". */
  readonly checkpointFailures: string[];
  /** End-to-end durations of the completed checkpoints (newest 10 of the statistics' history). */
  readonly checkpointEndToEndMs: number[];
}

export function describe(c: UserKeyedConfig): string {
  return `${c.kind}, ${c.keys.toLocaleString('en-US')} keys, ${c.mode} p=${c.parallelism}${c.intervalMs > 0 ? `, checkpoints every ${c.intervalMs} ms` : ''}`;
}

export { plainUserKeyed, type UserKeyedTotals };

// ---- the expected totals --------------------------------------------------

/** Sum of floor(s / R) for s in 0..m-1. */
function floorSum(m: number): number {
  const q = Math.floor(m / RECORDS_PER_MS);
  const r = m % RECORDS_PER_MS;
  return (RECORDS_PER_MS * q * (q - 1)) / 2 + r * q;
}

/** Sum of the timestamps' jitter over 1..n, by n (the same for every run of a size). */
const jitterSums = new Map<number, number>();

/**
 * The sum of every record's timestamp over 1..n read by `parallelism` partitions: the
 * sequence source's near-equal contiguous ranges, each with its own position from 0.
 */
export function expectedTimestampSum(n: number, parallelism: number): number {
  let jitter = jitterSums.get(n);
  if (jitter === undefined) {
    jitter = 0;
    for (let x = 1; x <= n; x++) jitter += timestampOf(0, mix(x));
    jitterSums.set(n, jitter);
  }
  let sum = jitter;
  for (let i = 0; i < parallelism; i++) sum += floorSum(Math.floor(n / parallelism) + (i < n % parallelism ? 1 : 0));
  return sum;
}

function verify(c: UserKeyedConfig, what: string, got: UserKeyedTotals): void {
  const want = expectedTimestampSum(c.n, c.parallelism);
  if (got.records !== c.n || got.timestampSum !== want) {
    throw new Error(
      `${what} over 1..${c.n} is wrong: timers accounted for ${got.records} records with timestamp sum ${got.timestampSum}; ` +
        `expected ${c.n} records, timestamp sum ${want}`,
    );
  }
}

// ---- running ---------------------------------------------------------------------------------

let runCounter = 0;

/**
 * One run of the user-keyed job: its figures as reported from inside (execute() wall and CPU
 * time, the sinks' totals, checked) and its checkpoint statistics. With checkpoints, they are
 * written to a fresh directory under os.tmpdir(), removed after the run; a run in which none
 * completed is an error, and checkpoints that failed for another reason than the end of the input
 * are returned to be reported.
 */
export async function runUserKeyed(c: UserKeyedConfig): Promise<UserKeyedRun> {
  const runId = `${process.pid}-user-keyed-${++runCounter}`;
  const channel = new BroadcastChannel(channelName(runId));
  const sinks: UserKeyedSinkReport[] = [];
  let exec: ExecReport | undefined;
  channel.onmessage = (event) => {
    const report = (event as { data: UserKeyedSinkReport | ExecReport }).data;
    if (report.type === 'user-keyed-sink') sinks.push(report);
    else if (report.type === 'exec') exec = report;
  };
  const dir = c.intervalMs > 0 ? mkdtempSync(join(tmpdir(), 'weir-bench-user-keyed-')) : undefined;
  try {
    const client = await startJob(userKeyedJob, {
      args: [String(c.n), runId, c.kind, String(c.keys), String(c.intervalMs), ...(dir === undefined ? [] : [dir])],
      mode: c.mode,
      parallelism: c.parallelism,
    });
    await client.getJobExecutionResult();
    const stats = await client.getCheckpointStats();
    const deadline = Date.now() + 5000;
    while (exec === undefined || sinks.length === 0 || sinks.length < sinks[0]!.subtasks) {
      if (Date.now() > deadline) throw new Error(`${describe(c)}: the job finished but its reports did not arrive`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const totals: UserKeyedTotals = {
      emitted: sinks.reduce((a, s) => a + s.emitted, 0),
      records: sinks.reduce((a, s) => a + s.records, 0),
      timestampSum: sinks.reduce((a, s) => a + s.timestampSum, 0),
    };
    verify(c, describe(c), totals);
    const completed = stats?.counts.completed ?? 0;
    const failures = realCheckpointFailures(stats);
    if (c.intervalMs > 0 && completed === 0) {
      throw new Error(`${describe(c)}: no checkpoint completed during the run${failures.length > 0 ? `; failed: ${failures.join('; ')}` : ''}`);
    }
    const e = exec as ExecReport;
    return {
      wallMs: e.wallMs,
      cpuMs: e.cpuMs,
      totals,
      checkpointsCompleted: completed,
      checkpointFailures: failures,
      checkpointEndToEndMs: (stats?.history ?? []).filter((h) => h.status === 'COMPLETED').map((h) => h.end_to_end_duration).reverse(),
    };
  } finally {
    channel.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** Every figure of one configuration, per measured run. */
export interface UserKeyedFigures {
  readonly config: UserKeyedConfig;
  readonly wallMs: number[];
  readonly cpuMs: number[];
  readonly emitted: number[];
  readonly checkpointsCompleted: number[];
  readonly checkpointFailures: string[][];
  readonly checkpointEndToEndMs: number[][];
  /** The group's plain loop, per round. */
  readonly plainMs: number[];
  /** Wall time of execute() with N = 1, per run (empty when not measured): the job's fixed cost, worker start-up included. */
  readonly fixedMs: number[];
  plainEmitted: number;
  /**
   * With a p=2 configuration in the group: the plain loop on one worker thread and split over two
   * (plain-threads.ts), per round; their ratio is the machine's own speed-up for this work.
   */
  readonly plainOneThreadMs: number[];
  readonly plainTwoThreadsMs: number[];
  peakRssBytes: number;
}

/**
 * Measures configurations in groups of one record kind and key count (all configurations of a
 * group must share kind, keys and N): a warm-up of each, with `fixedOverhead` `runs` runs of each
 * with N = 1, then `runs` rounds of every configuration and the plain loop once.
 */
export async function measureUserKeyed(
  name: string,
  groups: readonly (readonly UserKeyedConfig[])[],
  options: BenchOptions,
  fixedOverhead = false,
): Promise<UserKeyedFigures[]> {
  const { runs, log } = options;
  const rss = new RssSampler();
  const out: UserKeyedFigures[] = [];
  try {
    for (const group of groups) {
      const { kind, keys, n } = group[0]!;
      if (group.some((c) => c.kind !== kind || c.keys !== keys || c.n !== n)) throw new Error(`${name}: a group mixes record kinds, key counts or sizes`);
      const figures = group.map(
        (config): UserKeyedFigures => ({
          config,
          wallMs: [],
          cpuMs: [],
          emitted: [],
          checkpointsCompleted: [],
          checkpointFailures: [],
          checkpointEndToEndMs: [],
          plainMs: [],
          fixedMs: [],
          plainEmitted: 0,
          plainOneThreadMs: [],
          plainTwoThreadsMs: [],
          peakRssBytes: 0,
        }),
      );
      for (const c of group) {
        const w = await runUserKeyed(c);
        log(`[${name}] ${describe(c)}: warm-up ${w.wallMs.toFixed(0)} ms, ${w.checkpointsCompleted} checkpoints`);
      }
      if (fixedOverhead) {
        for (const f of figures) {
          for (let r = 0; r < runs; r++) f.fixedMs.push((await runUserKeyed({ ...f.config, n: 1 })).wallMs);
          log(`[${name}] ${describe(f.config)}: fixed overhead (N=1) ${f.fixedMs.map((x) => x.toFixed(0)).join(', ')} ms`);
        }
      }
      for (let r = 0; r < runs; r++) {
        for (const f of figures) {
          rss.reset();
          const w = await runUserKeyed(f.config);
          f.peakRssBytes = Math.max(f.peakRssBytes, rss.peak);
          f.wallMs.push(w.wallMs);
          f.cpuMs.push(w.cpuMs);
          f.emitted.push(w.totals.emitted);
          f.checkpointsCompleted.push(w.checkpointsCompleted);
          f.checkpointFailures.push(w.checkpointFailures);
          f.checkpointEndToEndMs.push(w.checkpointEndToEndMs);
          log(
            `[${name}] ${describe(f.config)}: run ${r + 1}/${runs} ${w.wallMs.toFixed(0)} ms, cpu ${w.cpuMs.toFixed(0)} ms, ` +
              `${w.totals.emitted} timers fired${f.config.intervalMs > 0 ? `, ${w.checkpointsCompleted} checkpoints (end-to-end ${w.checkpointEndToEndMs.join(', ') || '–'} ms)` : ''}` +
              (w.checkpointFailures.length > 0 ? `, failed: ${w.checkpointFailures.join('; ')}` : ''),
          );
        }
        const t0 = performance.now();
        const p = plainUserKeyed(kind, keys, n);
        const plainMs = performance.now() - t0;
        verify({ ...group[0]!, parallelism: 1 }, `${name} plain loop`, p);
        for (const f of figures) {
          f.plainMs.push(plainMs);
          f.plainEmitted = p.emitted;
        }
        log(`[${name}] ${kind}, ${keys.toLocaleString('en-US')} keys: plain loop ${plainMs.toFixed(1)} ms`);
        if (group.some((c) => c.parallelism === 2)) {
          const one = await plainOnThreads(kind, keys, n, 1);
          const two = await plainOnThreads(kind, keys, n, 2);
          for (const f of figures) {
            f.plainOneThreadMs.push(one);
            f.plainTwoThreadsMs.push(two);
          }
          log(`[${name}] ${kind}, ${keys.toLocaleString('en-US')} keys: plain loop on 1 thread ${one.toFixed(1)} ms, on 2 threads (half each) ${two.toFixed(1)} ms`);
        }
      }
      out.push(...figures);
    }
  } finally {
    rss.stop();
  }
  return out;
}

// ---- the table ---------------------------------------------------------------------------------

export function recordsPerSec(f: UserKeyedFigures): number {
  return f.config.n / (median(f.wallMs) / 1000);
}

/** N / (median wall time - median wall time with N = 1): the rate once the job runs. */
export function recordsPerSecExclFixed(f: UserKeyedFigures): number {
  const wall = median(f.wallMs);
  const fixed = median(f.fixedMs);
  return wall > fixed ? f.config.n / ((wall - fixed) / 1000) : NaN;
}

export function plainRecordsPerSec(f: UserKeyedFigures): number {
  return f.config.n / (median(f.plainMs) / 1000);
}

export function cpuMicrosPerRecord(f: UserKeyedFigures): number {
  return (median(f.cpuMs) * 1000) / f.config.n;
}

export function formatKeys(keys: number): string {
  return keys >= 1e6 && keys % 1e6 === 0 ? `${keys / 1e6}M` : keys.toLocaleString('en-US');
}

export function formatCount(n: number): string {
  return n >= 1e6 && n % 1e5 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 100 === 0 ? `${n / 1e3}k` : String(n);
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

const TABLE =
  'user-keyed: RichMapFunction → bounded-out-of-orderness watermarks → keyBy → KeyedProcessFunction (2 ValueStates, 1 event-time timer per key) → sink, ' +
  'against a plain loop doing the same work (rates: N / median wall time of execute(), worker start-up included; fixed cost: median execute() with N=1; ' +
  'CPU: process CPU time of execute(), every thread, per record)';

function rows(all: readonly UserKeyedFigures[], runs: number): DetailRow[] {
  return all.map((f) => {
    const c = f.config;
    const rate = recordsPerSec(f);
    const plain = plainRecordsPerSec(f);
    const p1 = all.find((b) => b.config.kind === c.kind && b.config.keys === c.keys && b.config.mode === 'threads' && b.config.parallelism === 1);
    const speedUp = c.parallelism === 2 && p1 !== undefined ? rate / recordsPerSec(p1) : undefined;
    const exclFixed = recordsPerSecExclFixed(f);
    const speedUpExclFixed = c.parallelism === 2 && p1 !== undefined ? exclFixed / recordsPerSecExclFixed(p1) : undefined;
    const machineSpeedUp = c.parallelism === 2 && f.plainTwoThreadsMs.length > 0 ? median(f.plainOneThreadMs) / median(f.plainTwoThreadsMs) : undefined;
    const cpuPerWall = median(f.cpuMs.map((cpu, k) => cpu / f.wallMs[k]!));
    return {
      kind: 'detail',
      benchmark: 'user-keyed',
      table: TABLE,
      mode: c.mode,
      parallelism: c.parallelism,
      runs,
      cells: {
        records: c.kind,
        keys: formatKeys(c.keys),
        mode: c.mode,
        p: String(c.parallelism),
        N: formatCount(c.n),
        'weir rec/s': formatRate(rate),
        'plain loop rec/s': formatRate(plain),
        'weir/plain': (rate / plain).toFixed(3),
        'fixed cost (N=1)': `${median(f.fixedMs).toFixed(0)} ms`,
        'weir rec/s excl. fixed cost': formatRate(exclFixed),
        'p=2 / p=1 (threads)': speedUp === undefined ? '–' : `${speedUp.toFixed(2)}× (${speedUpExclFixed!.toFixed(2)}× excl. fixed cost)`,
        'plain loop 2 threads / 1 thread': machineSpeedUp === undefined ? '–' : `${machineSpeedUp.toFixed(2)}×`,
        'CPU µs/record': cpuMicrosPerRecord(f).toFixed(2),
        'plain µs/record': ((median(f.plainMs) * 1000) / c.n).toFixed(3),
        'CPU/wall': cpuPerWall.toFixed(2),
        'timers fired (weir / plain)': `${formatCount(Math.round(median(f.emitted)))} / ${formatCount(f.plainEmitted)}`,
        'peak RSS': mib(f.peakRssBytes),
      },
      figures: {
        ...c,
        wallMs: f.wallMs,
        cpuMs: f.cpuMs,
        plainMs: f.plainMs,
        fixedMs: f.fixedMs,
        recordsPerSecExclFixed: exclFixed,
        speedUpOverP1ThreadsExclFixed: speedUpExclFixed ?? null,
        timersFired: f.emitted,
        plainTimersFired: f.plainEmitted,
        peakRssBytes: f.peakRssBytes,
        recordsPerSec: rate,
        plainRecordsPerSec: plain,
        ratio: rate / plain,
        speedUpOverP1Threads: speedUp ?? null,
        plainOneThreadMs: f.plainOneThreadMs,
        plainTwoThreadsMs: f.plainTwoThreadsMs,
        plainSpeedUpTwoThreads: machineSpeedUp ?? null,
        cpuMicrosPerRecord: cpuMicrosPerRecord(f),
      },
    };
  });
}

/** Records per run: 100 keys stream fast; 1M keys pay for state creation and a timer per record or two. */
export function userKeyedRecords(keys: number, quick: boolean): number {
  if (keys <= 1000) return quick ? 2_000_000 : 10_000_000;
  return quick ? 200_000 : 2_000_000;
}

export const KEY_COUNTS = [100, 1_000_000] as const;
export const KINDS: readonly RecordKind[] = ['numbers', 'events'];

export const userKeyed: Benchmark = {
  name: 'user-keyed',
  summary: 'a user-written keyed job (rich map, watermarks, 2 ValueStates + timer per key) vs a plain loop, numbers/Events, 100/1M keys, p=1/2',
  execArgv: () => ['--max-old-space-size=4096'],
  async run(options) {
    const groups = KINDS.flatMap((kind) =>
      KEY_COUNTS.map((keys) => {
        const n = userKeyedRecords(keys, options.quick);
        return [
          { kind, keys, n, mode: 'inline', parallelism: 1, intervalMs: 0 },
          { kind, keys, n, mode: 'threads', parallelism: 1, intervalMs: 0 },
          { kind, keys, n, mode: 'threads', parallelism: 2, intervalMs: 0 },
        ] satisfies UserKeyedConfig[];
      }),
    );
    return rows(await measureUserKeyed('user-keyed', groups, options, true), options.runs);
  },
};
