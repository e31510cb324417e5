/**
 * nexmark: queries q0–q4 of the Nexmark benchmark (src/nexmark, docs/nexmark.md) in threads mode
 * at parallelism 1 — what `weir run` does — with exactly-once checkpoints every second (full
 * mode adds q0 and q4 at parallelism 2, to show what a second core buys), against
 * a plain Node loop computing the same results from the same generator in the same process, and
 * against Flink 1.13's published figures.
 *
 * Figures per core, as Nexmark reports them: events generated (persons, auctions and bids; every
 * query reads them all) per second of CPU time, CPU time being process.cpuUsage() of the whole
 * process (every thread) over the execute() call; "excl. start-up" subtracts the median CPU time
 * of the same job with one event (worker start-up, module loading, shutdown). The plain loop is
 * timed the same way.
 *
 * Every run's output is checked: the job's sink reports a count and an order-independent
 * checksum of the query's output (bench/jobs/nexmark-common.ts), which must equal the plain
 * loop's. Per query: one warm-up (a quarter of the events), `runs` runs with one event for the
 * start-up cost, then `runs` measured runs, each followed by the plain loop. Checkpoints go to a
 * fresh directory under os.tmpdir(), removed after each run; a run with a restart or a failed
 * checkpoint (other than one cut short by the end of the input) is an error, and in full mode so
 * is a run without a completed checkpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import type { QueryName } from 'weir/nexmark';
import { startJob } from 'weir/testing';
import { formatRate, isDetailRow, median, realCheckpointFailures, rowOf, RssSampler, type Benchmark, type BenchOptions, type DetailRow, type Row } from './harness.ts';
import { channelName, type ExecReport } from './jobs/common.ts';
import { plainQuery, type Digest, type NexmarkSinkReport } from './jobs/nexmark-common.ts';

const job = fileURLToPath(new URL('./jobs/nexmark.ts', import.meta.url));

const INTERVAL_MS = 1000;

/**
 * Flink 1.13's throughput per core (events per second per core) from the results table of the
 * nexmark/nexmark repository's README ("Nexmark Benchmark Result"): 100 million events,
 * generated at up to 10 million events per second, on 3 worker machines of 8 cores, 8
 * TaskManagers with one slot each, job parallelism 8, exactly-once checkpoints every 3 minutes,
 * RocksDB state backend with incremental checkpoints; cores measured per process, as here.
 */
export const FLINK_1_13_EVENTS_PER_CORE_SECOND: Readonly<Record<QueryName, number>> = Object.freeze({
  q0: 155_020,
  q1: 157_940,
  q2: 175_210,
  q3: 152_120,
  q4: 34_330,
});
export const FLINK_SOURCE = 'https://github.com/nexmark/nexmark (README, "Benchmark Results", Flink 1.13)';

interface Run {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly netRuntimeMs: number;
  readonly checkpoints: number;
}

let runCounter = 0;

/** One run of the job over events 0..n-1; throws unless its digest equals `expected`. */
async function runOnce(query: QueryName, parallelism: number, n: number, expected: Digest, requireCheckpoint: boolean): Promise<Run> {
  const runId = `${process.pid}-nexmark-${++runCounter}`;
  const channel = new BroadcastChannel(channelName(runId));
  const sinks: NexmarkSinkReport[] = [];
  let exec: ExecReport | undefined;
  channel.onmessage = (event) => {
    const report = (event as { data: ExecReport | NexmarkSinkReport }).data;
    if (report.type === 'nexmark-sink') sinks.push(report);
    else if (report.type === 'exec') exec = report;
  };
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-nexmark-'));
  try {
    const client = await startJob(job, { args: [String(n), runId, query, String(INTERVAL_MS), dir], mode: 'threads', parallelism });
    await client.getJobExecutionResult();
    const stats = await client.getCheckpointStats();
    const deadline = Date.now() + 5000;
    while (exec === undefined || sinks.length === 0 || sinks.length < sinks[0]!.subtasks) {
      if (Date.now() > deadline) throw new Error(`nexmark ${query}: the job finished but its reports did not arrive`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const got = { count: sinks.reduce((a, s) => a + s.count, 0), checksum: sinks.reduce((a, s) => (a + s.checksum) >>> 0, 0) };
    if (got.count !== expected.count || got.checksum !== expected.checksum) {
      throw new Error(`nexmark ${query} over ${n} events is wrong: count ${got.count}, checksum ${got.checksum}; the plain loop: count ${expected.count}, checksum ${expected.checksum}`);
    }
    const completed = stats?.counts.completed ?? 0;
    const failures = realCheckpointFailures(stats);
    if (failures.length > 0 || (requireCheckpoint && completed === 0)) {
      throw new Error(`nexmark ${query} over ${n} events: ${completed} checkpoints completed and ${failures.length} failed${failures.length > 0 ? ` (${failures.join('; ')})` : ''}`);
    }
    const restarts = await client.getNumRestarts();
    if (restarts > 0) throw new Error(`nexmark ${query} over ${n} events: the job restarted ${restarts} times`);
    const e = exec as ExecReport;
    return { wallMs: e.wallMs, cpuMs: e.cpuMs, netRuntimeMs: e.netRuntimeMs, checkpoints: completed };
  } finally {
    channel.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The plain loop, timed (wall and process CPU), with its digest. */
function timePlain(query: QueryName, n: number): { ms: number; cpuMs: number; digest: Digest } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const digest = plainQuery(query, n);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, digest };
}

function ratio(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x >= 10 ? `${x.toFixed(0)}×` : x >= 0.1 ? `${x.toFixed(2)}×` : `${x.toPrecision(2)}×`;
}

async function measureQuery(query: QueryName, parallelism: number, n: number, options: BenchOptions): Promise<(Row | DetailRow)[]> {
  const { runs, log, quick } = options;
  const name = `nexmark ${query}${parallelism > 1 ? ` p=${parallelism}` : ''}`;
  const rss = new RssSampler();
  const startRssBytes = rss.peak;
  const f = { wall: [] as number[], cpu: [] as number[], net: [] as number[], plain: [] as number[], plainCpu: [] as number[], fixed: [] as number[], fixedCpu: [] as number[], checkpoints: [] as number[], peakRss: 0 };
  try {
    const warm = Math.max(1, Math.floor(n / 4));
    const warmPlain = timePlain(query, warm);
    const w = await runOnce(query, parallelism, warm, warmPlain.digest, false);
    log(`[${name}] warm-up (${warm} events): ${w.wallMs.toFixed(0)} ms (plain ${warmPlain.ms.toFixed(0)} ms)`);
    const one = plainQuery(query, 1);
    for (let r = 0; r < runs; r++) {
      const o = await runOnce(query, parallelism, 1, one, false);
      f.fixed.push(o.wallMs);
      f.fixedCpu.push(o.cpuMs);
    }
    log(`[${name}] start-up (1 event): ${f.fixed.map((x) => x.toFixed(0)).join(', ')} ms, cpu ${f.fixedCpu.map((x) => x.toFixed(0)).join(', ')} ms`);
    let expected: Digest | undefined;
    for (let r = 0; r < runs; r++) {
      if (expected === undefined) {
        const p = timePlain(query, n);
        expected = p.digest;
        f.plain.push(p.ms);
        f.plainCpu.push(p.cpuMs);
      }
      rss.reset();
      const run = await runOnce(query, parallelism, n, expected, !quick);
      f.peakRss = Math.max(f.peakRss, rss.peak);
      f.wall.push(run.wallMs);
      f.cpu.push(run.cpuMs);
      f.net.push(run.netRuntimeMs);
      f.checkpoints.push(run.checkpoints);
      if (r > 0) {
        const p = timePlain(query, n);
        if (p.digest.count !== expected.count || p.digest.checksum !== expected.checksum) throw new Error(`${name}: the plain loop is not deterministic`);
        f.plain.push(p.ms);
        f.plainCpu.push(p.cpuMs);
      }
      log(
        `[${name}] run ${r + 1}/${runs}: ${run.wallMs.toFixed(0)} ms, cpu ${run.cpuMs.toFixed(0)} ms, ${run.checkpoints} checkpoints ` +
          `(plain ${f.plain[r]!.toFixed(0)} ms); output ${expected.count} records, checksum ${expected.checksum} as the plain loop's`,
      );
    }
  } finally {
    rss.stop();
  }
  const checkpoints = median(f.checkpoints);
  const label = `${query}, exactly-once every ${INTERVAL_MS / 1000} s, ${checkpoints} checkpoint${checkpoints === 1 ? '' : 's'}`;
  const row = rowOf(name, { mode: 'threads', label, parallelism, n }, runs, f, startRssBytes);
  const perCore = n / (median(f.cpu) / 1000);
  const cpuExcl = median(f.cpu) - median(f.fixedCpu);
  const perCoreExcl = cpuExcl > 0 ? n / (cpuExcl / 1000) : NaN;
  const plainPerCore = n / (median(f.plainCpu) / 1000);
  const flink = FLINK_1_13_EVENTS_PER_CORE_SECOND[query];
  const detail: DetailRow = {
    kind: 'detail',
    benchmark: 'nexmark',
    table: `nexmark: events per second per core (CPU time of the whole process), threads mode, exactly-once checkpoints every ${INTERVAL_MS / 1000} s, against the plain loop and Flink 1.13 (${FLINK_SOURCE})`,
    mode: 'threads',
    parallelism,
    runs,
    cells: {
      query,
      p: String(parallelism),
      events: n >= 1e6 ? `${n / 1e6}M` : String(n),
      'weir events/s': formatRate(row.weirRecordsPerSec),
      'CPU/wall': row.cpuPerWall.toFixed(2),
      'weir events/s/core': formatRate(perCore),
      'excl. start-up': formatRate(perCoreExcl),
      'plain loop events/s/core': formatRate(plainPerCore),
      'weir/plain': ratio(perCore / plainPerCore),
      'Flink 1.13 events/s/core': formatRate(flink),
      'weir/Flink': ratio(perCore / flink),
      checkpoints: f.checkpoints.join(', '),
      'peak RSS': `${(f.peakRss / 2 ** 20).toFixed(0)} MiB`,
    },
    figures: {
      query,
      parallelism,
      events: n,
      checkpointIntervalMs: INTERVAL_MS,
      weirWallMs: f.wall,
      weirCpuMs: f.cpu,
      weirNetRuntimeMs: f.net,
      startupWallMs: f.fixed,
      startupCpuMs: f.fixedCpu,
      plainWallMs: f.plain,
      plainCpuMs: f.plainCpu,
      checkpointsCompleted: f.checkpoints,
      weirEventsPerCoreSecond: perCore,
      weirEventsPerCoreSecondExclStartup: perCoreExcl,
      plainEventsPerCoreSecond: plainPerCore,
      flinkEventsPerCoreSecond: flink,
      flinkSource: FLINK_SOURCE,
      peakRssBytes: f.peakRss,
    },
  };
  return [row, detail];
}

/** Events per run: a quick run takes one to two seconds, a full one about ten. */
function eventsFor(query: QueryName, quick: boolean): number {
  const stateful = query === 'q4';
  if (quick) return stateful ? 2_000_000 : 3_000_000;
  return stateful ? 8_000_000 : 15_000_000;
}

export const nexmark: Benchmark = {
  name: 'nexmark',
  summary: 'Nexmark q0–q4, threads p=1 (full: also q0, q4 at p=2), exactly-once checkpoints every 1 s, vs plain loop and Flink 1.13 per core',
  async run(options) {
    const rows: (Row | DetailRow)[] = [];
    for (const query of ['q0', 'q1', 'q2', 'q3', 'q4'] as const) rows.push(...(await measureQuery(query, 1, eventsFor(query, options.quick), options)));
    // What a second core buys: q0 has no exchange (each subtask generates and digests its own
    // events); in q4 every auction and bid crosses the keyBy exchange, between threads at p=2.
    if (!options.quick) {
      for (const query of ['q0', 'q4'] as const) {
        const more = await measureQuery(query, 2, eventsFor(query, false), options);
        const base = rows.find((r): r is Row => !isDetailRow(r) && r.benchmark === `nexmark ${query}`);
        for (const r of more) {
          if (isDetailRow(r) || base === undefined) continue;
          r.scaling = r.weirRecordsPerSec / base.weirRecordsPerSec;
          r.scalingExclOverhead = r.weirRecordsPerSecExclOverhead / base.weirRecordsPerSecExclOverhead;
        }
        rows.push(...more);
      }
    }
    return rows;
  },
};
