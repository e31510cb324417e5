/**
 * rocksdb-state: the RocksDB state backend (`state.backend.type: rocksdb`, default cache of
 * 64 MiB per keyed subtask) against the heap backend and a plain Node loop, in three parts.
 *
 * 1. Keyed count (jobs/rocksdb-keyed-count.ts: a ValueState count per key, inline, p=1) over
 *    keys spread uniformly by a hash of the record (not a cycle, which would defeat any cache):
 *    100 keys (everything cached) and 1M keys (more than the cache holds). Records/s of each
 *    backend, of the plain loop (a Map of counts, the same keys) measured after each run, their
 *    ratio, the RocksDB backend's cache misses (synchronous RocksDB reads) per record and the
 *    entries it read ahead of use (one batched read per record batch). Every run's sink totals
 *    are checked against the plain loop's. The fast configurations get a warm-up run; the
 *    RocksDB 1M-key runs do not (JIT warm-up is noise against them).
 * 2. Checkpoint pause (jobs/checkpoint-state.ts, as checkpoint-pause drives it: threads, p=1,
 *    ~1 KB ValueState per key, a steady paced stream updating values, checkpoints triggered with
 *    a quiet stretch before each): the longest gap between two records in a checkpoint's window
 *    against the longest in an equally long window without one, on RocksDB and on the heap at
 *    the same state size. The steady rate is lower than checkpoint-pause's, because RocksDB with
 *    most keys outside its cache cannot sustain 100k records/s on this machine.
 * 3. State larger than the heap (jobs/rocksdb-large-state.ts): ~1 KB per key in a child
 *    `node --max-old-space-size=256` running the job through the CLI (`weir run --inline`),
 *    exactly-once checkpoints every few seconds: on the heap it runs out of memory, on RocksDB it
 *    is meant to complete and checkpoint (docs/performance.md says when it does). Both outcomes
 *    are reported (exit status, checkpoints, sizes).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import type { JobClient } from 'weir';
import { runJob, startJob } from 'weir/testing';
import { checkpointStateJob, requestGaps, sleep, subtaskFigures, type StateRun } from './checkpoint-pause.ts';
import { formatRate, median, RssSampler, type Benchmark, type BenchOptions, type DetailRow, type Totals } from './harness.ts';
import { absNow, commandChannel, Inbox, STATE_BYTES_PER_KEY, stateJobArgv, type StateJobReport } from './jobs/checkpoint-common.ts';
import { channelName, type ExecReport, type SinkReport } from './jobs/common.ts';
import { backendConfig, backendLabel, keyOf, type BackendName, type MissReport } from './jobs/rocksdb-common.ts';
import { RocksDBStore } from '../src/state/rocksdb/rocksdb-store.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const countJob = fileURLToPath(new URL('./jobs/rocksdb-keyed-count.ts', import.meta.url));
const largeStateJob = fileURLToPath(new URL('./jobs/rocksdb-large-state.ts', import.meta.url));
/** checkpoint-state.ts with the RocksDB requests timed (where a pause came from). */
const timedStateJob = fileURLToPath(new URL('./jobs/rocksdb-checkpoint-state.ts', import.meta.url));
const NAME = 'rocksdb-state';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const ratio = (x: number) => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));
const fmtMs = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(ms < 100 ? 1 : 0)} ms` : '–');

// ---- 1. keyed count ------------------------------------------------------------------------

/** The plain loop: counts per key in a Map, as the job does; totals as the counting sink sees them. */
function plainCount(n: number, keys: number): Totals {
  const counts = new Map<number, number>();
  let count = 0;
  let max = -Infinity;
  for (let x = 1; x <= n; x++) {
    const key = keyOf(x, keys);
    const c = (counts.get(key) ?? 0) + 1;
    counts.set(key, c);
    count++;
    if (c > max) max = c;
  }
  return { count, max };
}

interface CountRun {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly totals: Totals;
  readonly misses: number | undefined;
  readonly prefetched: number | undefined;
}

let runCounter = 0;

/** One run of the keyed-count job; waits for its exec, sink and (RocksDB) miss reports. */
async function runCount(n: number, keys: number, backend: BackendName, localDir: string): Promise<CountRun> {
  const runId = `${process.pid}-rocksdb-${++runCounter}`;
  const channel = new BroadcastChannel(channelName(runId));
  let exec: ExecReport | undefined;
  let sink: SinkReport | undefined;
  let misses: number | undefined;
  let prefetched: number | undefined;
  channel.onmessage = (event) => {
    const r = event.data as ExecReport | SinkReport | MissReport;
    if (r.type === 'exec') exec = r;
    else if (r.type === 'sink') sink = r;
    else {
      misses = (misses ?? 0) + r.misses;
      prefetched = (prefetched ?? 0) + r.prefetched;
    }
  };
  try {
    await runJob(countJob, { args: [String(n), runId, String(keys), backend, localDir], mode: 'inline', parallelism: 1 });
    const deadline = Date.now() + 5000;
    while (exec === undefined || sink === undefined || (backend !== 'heap' && misses === undefined)) {
      if (Date.now() > deadline) throw new Error(`${NAME}: the ${backend} run over ${keys} keys finished but its reports did not arrive`);
      await sleep(20);
    }
  } finally {
    channel.close();
  }
  return { wallMs: exec.wallMs, cpuMs: exec.cpuMs, totals: { count: sink.count, max: sink.max }, misses, prefetched };
}

interface CountConfig {
  readonly keys: number;
  readonly backend: BackendName;
  readonly n: number;
  readonly runs: number;
  readonly warmUp: boolean;
}

interface CountFigures {
  readonly wallMs: number[];
  readonly cpuMs: number[];
  readonly plainMs: number[];
  readonly misses: number[];
  readonly prefetched: number[];
  peakRss: number;
}

async function keyedCount(configs: readonly CountConfig[], localDir: string, log: BenchOptions['log']): Promise<DetailRow[]> {
  const expected = new Map<string, Totals>();
  const want = (n: number, keys: number): Totals => {
    const k = `${n}/${keys}`;
    if (!expected.has(k)) expected.set(k, plainCount(n, keys));
    return expected.get(k)!;
  };
  const verify = (c: CountConfig, got: Totals) => {
    const w = want(c.n, c.keys);
    if (got.count !== w.count || got.max !== w.max) {
      throw new Error(`${NAME}: ${c.backend} over ${c.keys} keys, 1..${c.n}: got count ${got.count}, max ${got.max}; expected ${w.count}, ${w.max}`);
    }
  };
  const rss = new RssSampler();
  const figures = configs.map((): CountFigures => ({ wallMs: [], cpuMs: [], plainMs: [], misses: [], prefetched: [], peakRss: 0 }));
  try {
    for (const c of configs) {
      if (!c.warmUp) continue;
      const w = await runCount(c.n, c.keys, c.backend, localDir);
      verify(c, w.totals);
      log(`[${NAME}] ${c.backend} ${c.keys} keys: warm-up ${w.wallMs.toFixed(0)} ms`);
    }
    const rounds = Math.max(...configs.map((c) => c.runs));
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of configs.entries()) {
        if (r >= c.runs) continue;
        const f = figures[i]!;
        rss.reset();
        const w = await runCount(c.n, c.keys, c.backend, localDir);
        f.peakRss = Math.max(f.peakRss, rss.peak);
        verify(c, w.totals);
        const t0 = performance.now();
        const p = plainCount(c.n, c.keys);
        const plainMs = performance.now() - t0;
        verify(c, p);
        f.wallMs.push(w.wallMs);
        f.cpuMs.push(w.cpuMs);
        f.plainMs.push(plainMs);
        if (w.misses !== undefined) f.misses.push(w.misses);
        if (w.prefetched !== undefined) f.prefetched.push(w.prefetched);
        log(
          `[${NAME}] ${c.backend} ${c.keys} keys, N=${c.n}: run ${r + 1}/${c.runs} ${w.wallMs.toFixed(0)} ms, cpu ${w.cpuMs.toFixed(0)} ms` +
            `${w.misses !== undefined ? `, ${w.misses} cache misses, ${w.prefetched} entries prefetched` : ''} (plain ${plainMs.toFixed(1)} ms)`,
        );
      }
    }
  } finally {
    rss.stop();
  }
  const rate = (i: number) => configs[i]!.n / (median(figures[i]!.wallMs) / 1000);
  return configs.map((c, i): DetailRow => {
    const f = figures[i]!;
    const weir = rate(i);
    const plain = c.n / (median(f.plainMs) / 1000);
    const heapIndex = configs.findIndex((o) => o.keys === c.keys && o.backend === 'heap');
    const heap = heapIndex >= 0 ? rate(heapIndex) : NaN;
    const misses = f.misses.length > 0 ? median(f.misses) : undefined;
    const prefetched = f.prefetched.length > 0 ? median(f.prefetched) : undefined;
    // What the misses cost: the run's time beyond what the heap backend needs for the same records, per miss.
    // Only where misses are frequent enough (1 in 100 records or more) for the difference to be theirs rather than noise.
    const perMissUs =
      misses !== undefined && misses >= c.n / 100 && Number.isFinite(heap) ? ((median(f.wallMs) - (c.n / heap) * 1000) * 1000) / misses : NaN;
    return {
      kind: 'detail',
      benchmark: NAME,
      table: `${NAME}: keyed count (ValueState count per key, uniform keys, inline, p=1), RocksDB against the heap and the plain loop`,
      mode: 'inline',
      parallelism: 1,
      runs: f.wallMs.length,
      cells: {
        keys: c.keys.toLocaleString('en-US'),
        backend: backendLabel(c.backend),
        N: c.n.toLocaleString('en-US'),
        runs: String(f.wallMs.length),
        'weir rec/s': formatRate(weir),
        'plain loop rec/s': formatRate(plain),
        'weir/plain': ratio(weir / plain),
        'vs heap': c.backend === 'heap' || !Number.isFinite(heap) ? '–' : ratio(weir / heap),
        'cache misses': misses === undefined ? '–' : misses.toLocaleString('en-US'),
        'misses/record': misses === undefined ? '–' : (misses / c.n).toFixed(3),
        'entries prefetched': prefetched === undefined ? '–' : prefetched.toLocaleString('en-US'),
        'time per miss (est.)': Number.isFinite(perMissUs) ? `${perMissUs.toFixed(0)} µs` : '–',
        'rec/CPU-s': formatRate(c.n / (median(f.cpuMs) / 1000)),
        'peak RSS': mib(f.peakRss),
      },
      figures: { ...c, weirRecordsPerSec: weir, plainRecordsPerSec: plain, heapRecordsPerSec: heap, perMissUs, ...f },
    };
  });
}

// ---- 2. checkpoint pause -------------------------------------------------------------------

/** After the state is built, before the first quiet stretch (its garbage collected, RocksDB's flushes done). */
const SETTLE_MS = 2000;
const WINDOW_TAIL_MS = 100;
const GUARD_MS = 100;

type GapsReport = Extract<StateJobReport, { type: 'gaps' }>;

/** The gaps [start, length] of `report` that overlap [from, to], longest first. */
function gapsIn(report: GapsReport, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < report.gaps.length; i += 2) {
    const start = report.gaps[i]!;
    const length = report.gaps[i + 1]!;
    if (start < to && start + length > from) out.push([start, length]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

/**
 * What a gap [start, length] overlapped most: a RocksDB request the task waited for (a
 * synchronous read, or a prefetch the input awaited) with its time queued in the I/O thread and
 * running there, a garbage collection, or neither (time spent on the task thread).
 */
function gapCause(start: number, length: number, waits: readonly (number | string)[][], gc: readonly number[]): string {
  const end = start + length;
  const overlap = (a: number, b: number) => Math.max(0, Math.min(end, b) - Math.max(start, a));
  let best: (number | string)[] | undefined;
  let bestOverlap = 0;
  for (const w of waits) {
    // Records wait only for synchronous requests and for prefetches (asynchronous gets); the
    // asynchronous scans, snapshots and copies are awaited by the checkpoint's writer.
    if (w[5] !== 'sync' && w[4] !== 'get') continue;
    const o = overlap(w[0] as number, (w[0] as number) + (w[1] as number));
    if (o > bestOverlap) {
      best = w;
      bestOverlap = o;
    }
  }
  let gcOverlap = 0;
  for (let i = 0; i < gc.length; i += 3) gcOverlap += overlap(gc[i]!, gc[i]! + gc[i + 1]!);
  const parts: string[] = [];
  if (best !== undefined && bestOverlap >= length / 4) {
    parts.push(
      `${best[5]} ${best[4]} ${(best[1] as number).toFixed(1)} ms (reaching the I/O thread ${((best[6] as number | undefined) ?? 0).toFixed(1)}, ` +
        `queued ${(best[2] as number).toFixed(1)}, ran ${(best[3] as number).toFixed(1)})`,
    );
  }
  if (gcOverlap >= 1) parts.push(`gc ${gcOverlap.toFixed(1)} ms`);
  return parts.length > 0 ? parts.join(' + ') : 'task thread';
}

interface PauseFigures {
  readonly id: number;
  /** What each of topGaps overlapped (gapCause). */
  readonly causes: string[];
  readonly longestGapMs: number;
  /** The three longest gaps of the window: [ms after the trigger, length]. */
  readonly topGaps: [number, number][];
  readonly baselineLongestGapMs: number;
  readonly gapsOver10Ms: number;
  readonly baselineGapsOver10Ms: number;
  readonly windowMs: number;
  readonly endToEndMs: number;
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly stateBytes: number;
}

async function checkpointPause(backend: BackendName, keys: number, rate: number, checkpoints: number, localDir: string, log: BenchOptions['log']): Promise<DetailRow> {
  const runId = `${process.pid}-rocksdb-pause-${backend}`;
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-rocksdb-checkpoints-'));
  const inbox = new Inbox(runId);
  const commands = commandChannel(runId);
  const rss = new RssSampler();
  let client: JobClient | undefined;
  const triggers: { triggerAt: number; resolvedAt: number; quietFrom: number }[] = [];
  let report!: GapsReport;
  let stats!: Awaited<ReturnType<JobClient['getCheckpointStats']>>;
  let buildMs!: number;
  let waits: (number | string)[][] = [];
  try {
    const startAt = absNow();
    client = await startJob(backend === 'heap' ? checkpointStateJob : timedStateJob, {
      args: stateJobArgv({ runId, keys, dir, rate, restarts: 0 }),
      mode: 'threads',
      parallelism: 1,
      config: backendConfig(backend, localDir),
    });
    client.getJobExecutionResult().catch(() => {});
    const built = await inbox.waitFor('the state to be built', (r): r is Extract<StateJobReport, { type: 'built' }> => r.type === 'built', 600_000);
    buildMs = built.at - startAt;
    log(`[${NAME}] pause, ${backend}: ${keys} keys built in ${(buildMs / 1000).toFixed(1)} s`);
    const run: StateRun = { client, inbox, commands, dir, startAt, builtAt: built.at, stop: async () => {} };
    await sleep(SETTLE_MS);
    let quietFrom = absNow();
    let expected = 1000 + (keys * STATE_BYTES_PER_KEY) / 40e3;
    for (let k = 0; k < checkpoints; k++) {
      await sleep(quietFrom + expected + GUARD_MS - absNow());
      const triggerAt = absNow();
      await client.triggerCheckpoint();
      const resolvedAt = absNow();
      triggers.push({ triggerAt, resolvedAt, quietFrom });
      log(`[${NAME}] pause, ${backend}: checkpoint ${k + 1}/${checkpoints} took ${(resolvedAt - triggerAt).toFixed(0)} ms`);
      expected = 1.5 * (resolvedAt - triggerAt + WINDOW_TAIL_MS);
      quietFrom = resolvedAt + WINDOW_TAIL_MS;
      await sleep(WINDOW_TAIL_MS);
    }
    await sleep(WINDOW_TAIL_MS + 100);
    const reportsBefore = inbox.reports.length;
    report = await requestGaps(run);
    if (backend !== 'heap') {
      const timed = await inbox
        .waitFor('the RocksDB request timings', (r): r is GapsReport => (r as { type: string }).type === 'rocksdb-waits', 5000, reportsBefore)
        .catch(() => undefined);
      waits = (timed as unknown as { waits?: (number | string)[][] } | undefined)?.waits ?? [];
    }
    stats = await client.getCheckpointStats();
  } finally {
    try {
      // Cancelling may answer with the job's own 'was cancelled' outcome: that is the point.
      if (client && !['FINISHED', 'FAILED', 'CANCELED'].includes(await client.getJobStatus())) {
        await client.cancel().catch((e: unknown) => {
          if (!/was cancelled/.test(String(e))) throw e;
        });
      }
    } finally {
      inbox.close();
      commands.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const peakRss = rss.peak;
  rss.stop();
  const figures = triggers.map((t, k): PauseFigures => {
    const id = k + 1;
    const mark = report.marks.find((m) => m.checkpointId === id);
    const entry = stats?.history.find((h) => h.id === id);
    const end = Math.max(t.resolvedAt, mark?.completeAt ?? 0) + WINDOW_TAIL_MS;
    const windowMs = end - t.triggerAt;
    const baselineEnd = t.triggerAt - GUARD_MS;
    const baselineStart = Math.max(t.quietFrom, baselineEnd - windowMs);
    const inWindow = gapsIn(report, t.triggerAt, end);
    const inBaseline = gapsIn(report, baselineStart, baselineEnd);
    const { syncMs, asyncMs } = subtaskFigures(entry);
    return {
      id,
      causes: inWindow.slice(0, 3).map(([start, length]) => gapCause(start, length, waits, report.gc)),
      longestGapMs: inWindow[0]?.[1] ?? 0,
      topGaps: inWindow.slice(0, 3).map(([start, length]) => [start - t.triggerAt, length]),
      baselineLongestGapMs: inBaseline[0]?.[1] ?? 0,
      gapsOver10Ms: inWindow.filter((g) => g[1] > 10).length,
      baselineGapsOver10Ms: inBaseline.filter((g) => g[1] > 10).length,
      windowMs,
      endToEndMs: entry?.end_to_end_duration ?? NaN,
      syncMs,
      asyncMs,
      stateBytes: entry?.state_size ?? NaN,
    };
  });
  for (const f of figures) {
    log(
      `[${NAME}] pause, ${backend}: checkpoint ${f.id}: longest gaps ${f.topGaps.map(([at, ms], i) => `${ms.toFixed(1)} ms at +${at.toFixed(0)} ms [${f.causes[i]}]`).join(', ')} in ${f.windowMs.toFixed(0)} ms ` +
        `(>10 ms: ${f.gapsOver10Ms}), baseline ${f.baselineLongestGapMs.toFixed(1)} ms (>10 ms: ${f.baselineGapsOver10Ms}); ` +
        `e2e ${f.endToEndMs} ms, sync ${f.syncMs} ms, async ${f.asyncMs} ms, ${(f.stateBytes / 1e6).toFixed(1)} MB`,
    );
  }
  const max = (xs: number[]) => (xs.length === 0 ? 0 : Math.max(...xs));
  const elapsedS = (report.lastAt - report.firstAt) / 1000;
  return {
    kind: 'detail',
    benchmark: NAME,
    table: `${NAME}: longest processing pause while a checkpoint is taken (threads, p=1, ~1 KB ValueState per key, steady ${formatRate(rate)} rec/s)`,
    mode: 'threads',
    parallelism: 1,
    runs: figures.length,
    cells: {
      backend: backendLabel(backend),
      keys: keys.toLocaleString('en-US'),
      'state size (stats)': `${(median(figures.map((f) => f.stateBytes)) / 1e6).toFixed(1)} MB`,
      'build time': `${(buildMs / 1000).toFixed(1)} s`,
      checkpoints: String(figures.length),
      'longest pause in a checkpoint window': `${fmtMs(max(figures.map((f) => f.longestGapMs)))} (${figures.map((f) => f.longestGapMs.toFixed(1)).join(', ')})`,
      'longest gap without checkpoint': `${fmtMs(max(figures.map((f) => f.baselineLongestGapMs)))} (${figures.map((f) => f.baselineLongestGapMs.toFixed(1)).join(', ')})`,
      'gaps > 10 ms, checkpoint / baseline windows': `${figures.reduce((a, f) => a + f.gapsOver10Ms, 0)} / ${figures.reduce((a, f) => a + f.baselineGapsOver10Ms, 0)}`,
      'longest pause: what it overlapped': (() => {
        const worst = figures.reduce((a, f) => (f.longestGapMs > a.longestGapMs ? f : a), figures[0]!);
        return worst?.causes[0] ?? '–';
      })(),
      'end-to-end (median)': fmtMs(median(figures.map((f) => f.endToEndMs))),
      'sync (max)': fmtMs(max(figures.map((f) => f.syncMs))),
      'async (median)': fmtMs(median(figures.map((f) => f.asyncMs))),
      'steady rec/s reached': formatRate(Math.max(0, report.records - keys) / Math.max(elapsedS - buildMs / 1000, 1e-3)),
      'peak RSS': mib(peakRss),
    },
    figures: { backend, keys, steadyRecordsPerSec: rate, buildMs, records: report.records, peakRssBytes: peakRss, checkpoints: figures },
  };
}

// ---- 2b. reads while a checkpoint's writes, flush and copy are under way ---------------------

/**
 * The I/O side of a checkpoint pause, without a job: a RocksDB instance of `keys` entries of
 * ~1 KB (flushed), then, as a checkpoint does, `dirty` changed entries posted as writes, a flush
 * and copy of the files (RocksDBStore.checkpoint) and a RocksDB snapshot; meanwhile the thread
 * reads random keys synchronously, one at a time, yielding between reads, until the copy is done.
 * The same reads for the same time without a checkpoint are the baseline. A read that waits
 * behind the checkpoint's writes or flush is a processing pause of a task.
 */
async function readsDuringCheckpoint(keys: number, dirty: number, localDir: string, log: BenchOptions['log']): Promise<DetailRow> {
  const dir = mkdtempSync(join(localDir, 'reads-'));
  const store = new RocksDBStore({ path: join(dir, 'db'), writeBufferSize: 64 * 2 ** 20, maxWriteBufferNumber: 2, blockCache: true });
  const keyOfIndex = (i: number) => Buffer.from(`k${String(i).padStart(10, '0')}`, 'latin1');
  const value = (i: number, round: number) => {
    const v = Buffer.alloc(935);
    v.writeUInt32BE(i, 0);
    v.writeUInt32BE(round, 4);
    return v;
  };
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  const read = async (untilDone: Promise<unknown> | undefined, forMs: number) => {
    const lat: number[] = [];
    let done = false;
    void untilDone?.then(() => (done = true));
    const t0 = performance.now();
    while (untilDone !== undefined ? !done : performance.now() - t0 < forMs) {
      const t = performance.now();
      store.getSync(keyOfIndex(random() % keys));
      lat.push(performance.now() - t);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { lat: lat.sort((a, b) => a - b), ms: performance.now() - t0 };
  };
  const rows: { round: number; checkpoint: number[]; baseline: number[]; checkpointMs: number }[] = [];
  try {
    for (let i = 0; i < keys; i++) store.write(keyOfIndex(i), value(i, 0));
    await store.checkpoint(join(dir, 'chk-0'));
    for (let round = 1; round <= 3; round++) {
      const t0 = performance.now();
      for (let j = 0; j < dirty; j++) {
        const i = random() % keys;
        store.write(keyOfIndex(i), value(i, round));
      }
      const copy = store.checkpoint(join(dir, `chk-${round}`));
      const snapshot = store.snapshot();
      const during = await read(Promise.all([copy, snapshot]), 0);
      const checkpointMs = performance.now() - t0;
      store.releaseSnapshot(await snapshot);
      rmSync(join(dir, `chk-${round - 1}`), { recursive: true, force: true });
      const baseline = await read(undefined, checkpointMs);
      rows.push({ round, checkpoint: during.lat, baseline: baseline.lat, checkpointMs });
      const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
      log(
        `[${NAME}] reads during a checkpoint (${keys} keys, ${dirty} written): round ${round}: checkpoint ${checkpointMs.toFixed(0)} ms, ` +
          `${during.lat.length} reads, longest ${q(during.lat, 1).toFixed(1)} ms, p99 ${q(during.lat, 0.99).toFixed(2)} ms, >10 ms ${during.lat.filter((x) => x > 10).length}; ` +
          `baseline ${baseline.lat.length} reads, longest ${q(baseline.lat, 1).toFixed(1)} ms, p99 ${q(baseline.lat, 0.99).toFixed(2)} ms`,
      );
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const longest = (xs: number[]) => (xs.length === 0 ? 0 : xs[xs.length - 1]!);
  return {
    kind: 'detail',
    benchmark: NAME,
    table: `${NAME}: synchronous reads while a checkpoint's writes, flush and file copy are under way (RocksDBStore, ~1 KB values)`,
    mode: 'inline',
    parallelism: 1,
    runs: rows.length,
    cells: {
      keys: keys.toLocaleString('en-US'),
      'entries written at the checkpoint': dirty.toLocaleString('en-US'),
      'checkpoint (ms)': rows.map((r) => r.checkpointMs.toFixed(0)).join(', '),
      'longest read during it (ms)': rows.map((r) => longest(r.checkpoint).toFixed(1)).join(', '),
      'reads > 10 ms during it': rows.map((r) => r.checkpoint.filter((x) => x > 10).length).join(', '),
      'longest read, baseline (ms)': rows.map((r) => longest(r.baseline).toFixed(1)).join(', '),
    },
    figures: { keys, dirty, rounds: rows.map((r) => ({ round: r.round, checkpointMs: r.checkpointMs, longestMs: longest(r.checkpoint), over10: r.checkpoint.filter((x) => x > 10).length, reads: r.checkpoint.length, baselineLongestMs: longest(r.baseline), baselineReads: r.baseline.length })) },
  };
}

// ---- 3. state larger than the heap ---------------------------------------------------------

/** Old-space cap of the child process running the large-state job, MiB. */
const HEAP_CAP_MB = 256;

interface LargeStateOutcome {
  readonly backend: BackendName;
  readonly keys: number;
  readonly heapCapMb: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly wallMs: number;
  readonly outOfMemory: boolean;
  readonly result: {
    keys: number;
    wallMs: number;
    checkpointsCompleted: number;
    checkpointsFailed: string[];
    largestCheckpointBytes: number;
    checkpointDurationsMs: number[];
    peakRssBytes: number;
    heapLimitBytes: number;
  } | undefined;
  readonly stderrTail: string;
}

/** Runs the large-state job in `node --max-old-space-size=HEAP_CAP_MB bin/weir.mjs run --inline` and reports how it ended. */
function largeState(backend: BackendName, keys: number, intervalMs: number, localDir: string, heapCapMb: number): Promise<LargeStateOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-rocksdb-large-'));
  const config = backendConfig(backend, localDir);
  const defines = Object.entries(config).flatMap(([k, v]) => ['-D', `${k}=${String(v)}`]);
  const argv = [`--max-old-space-size=${heapCapMb}`, join(root, 'bin/weir.mjs'), 'run', '--inline', ...defines, largeStateJob, String(keys), dir, String(intervalMs)];
  const t0 = performance.now();
  return new Promise<LargeStateOutcome>((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      rmSync(dir, { recursive: true, force: true });
      const line = stdout.split('\n').find((l) => l.startsWith('ROCKSDB-LARGE-STATE '));
      resolve({
        backend,
        keys,
        heapCapMb,
        exitCode,
        signal,
        wallMs: performance.now() - t0,
        outOfMemory: /heap out of memory|Reached heap limit/i.test(stderr),
        result: line ? JSON.parse(line.slice('ROCKSDB-LARGE-STATE '.length)) : undefined,
        stderrTail: stderr.split('\n').filter((l) => l.trim() !== '' && !/^\s*\d+: 0x/.test(l)).slice(-6).join('\n'),
      });
    });
  });
}

function largeStateRow(o: LargeStateOutcome, intervalMs: number): DetailRow {
  const r = o.result;
  const outcome = r !== undefined && o.exitCode === 0 ? 'completed' : o.outOfMemory ? 'out of memory' : `failed (${o.signal ?? `exit ${o.exitCode}`})`;
  return {
    kind: 'detail',
    benchmark: NAME,
    table: `${NAME}: keyed state larger than the heap (node --max-old-space-size=${o.heapCapMb}, weir run --inline, ~1 KB ValueState per key, checkpoints every ${intervalMs / 1000} s)`,
    mode: 'inline',
    parallelism: 1,
    runs: 1,
    cells: {
      backend: backendLabel(o.backend),
      keys: o.keys.toLocaleString('en-US'),
      'state (keys × 935 B)': `${((o.keys * STATE_BYTES_PER_KEY) / 1e6).toFixed(0)} MB`,
      outcome,
      'time': `${(o.wallMs / 1000).toFixed(1)} s${r === undefined ? ' (until it died)' : ''}`,
      'checkpoints completed': r === undefined ? '–' : String(r.checkpointsCompleted),
      'largest checkpoint': r === undefined ? '–' : `${(r.largestCheckpointBytes / 1e6).toFixed(1)} MB`,
      'checkpoint end-to-end': r === undefined ? '–' : r.checkpointDurationsMs.map((d) => fmtMs(d)).join(', '),
      'peak RSS': r === undefined ? '–' : mib(r.peakRssBytes),
      'heap limit': r === undefined ? `${o.heapCapMb} MiB old space` : mib(r.heapLimitBytes),
    },
    figures: { ...o, intervalMs },
  };
}

// ---- the benchmark -------------------------------------------------------------------------

/**
 * Which parts run: WEIR_BENCH_ROCKSDB_PARTS, a comma-separated subset of count, pause, large
 * (default all). WEIR_BENCH_ROCKSDB_SIZE=large runs the large sizes: keyed count also at 10M keys,
 * the pause at about 1 GB of state, several GB of state in a 1 GiB heap; each part stays under
 * about 10 minutes on a 2-core machine. (Environment variables because the harness's own options
 * are shared by every benchmark.)
 */
function partsToRun(): Set<string> {
  const all = ['count', 'pause', 'reads', 'large'];
  const chosen = (process.env.WEIR_BENCH_ROCKSDB_PARTS ?? all.join(',')).split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of chosen) if (!all.includes(p)) throw new Error(`WEIR_BENCH_ROCKSDB_PARTS: unknown part '${p}' (${all.join(', ')})`);
  return new Set(chosen);
}

export const rocksdbState: Benchmark = {
  name: NAME,
  summary: 'RocksDB state backend vs heap and the plain loop: keyed count (100 / 1M keys), checkpoint pause, state larger than the heap',
  async run(options) {
    const { quick, log } = options;
    const localDir = mkdtempSync(join(tmpdir(), 'weir-bench-rocksdb-local-'));
    const rows: DetailRow[] = [];
    try {
      const runs = options.runs;
      const parts = partsToRun();
      const large = process.env.WEIR_BENCH_ROCKSDB_SIZE === 'large';
      if (parts.has('count')) {
        const few = quick ? 2_000_000 : 10_000_000;
        const manyKeys = 1_000_000;
        const configs: CountConfig[] = [
          { keys: 100, backend: 'heap', n: few, runs, warmUp: true },
          { keys: 100, backend: 'rocksdb', n: few, runs, warmUp: true },
          { keys: manyKeys, backend: 'heap', n: quick ? 1_000_000 : 4_000_000, runs, warmUp: true },
          { keys: manyKeys, backend: 'rocksdb', n: quick ? 1_000_000 : 4_000_000, runs: quick ? 1 : runs, warmUp: false },
        ];
        // Large: instead, 10M keys, 10M records (each key once on average), one run each;
        // WEIR_BENCH_ROCKSDB_COUNT_BACKENDS=heap,rocksdb chooses the backends.
        const countBackends = (process.env.WEIR_BENCH_ROCKSDB_COUNT_BACKENDS ?? 'heap,rocksdb').split(',');
        const largeConfigs: CountConfig[] = (['heap', 'rocksdb'] as const)
          .filter((b) => countBackends.includes(b))
          .map((backend) => ({ keys: 10_000_000, backend, n: 10_000_000, runs: 1, warmUp: false }));
        rows.push(...(await keyedCount(large ? largeConfigs : configs, localDir, log)));
      }
      if (parts.has('pause')) {
        // Large: about 1 GB of state (1.07M keys of 935 B); WEIR_BENCH_ROCKSDB_PAUSE_KEYS sets another size.
        const pauseKeys = Number(process.env.WEIR_BENCH_ROCKSDB_PAUSE_KEYS ?? (large ? 1_070_000 : quick ? 50_000 : 300_000));
        const rate = 2_000;
        const backends = (process.env.WEIR_BENCH_ROCKSDB_PAUSE_BACKENDS ?? 'rocksdb,rocksdb-incremental,heap').split(',') as BackendName[];
        // WEIR_BENCH_ROCKSDB_PAUSE_CHECKPOINTS: checkpoints per backend (default 3, quick 2).
        const checkpoints = Number(process.env.WEIR_BENCH_ROCKSDB_PAUSE_CHECKPOINTS ?? (quick ? 2 : 3));
        if (!(Number.isInteger(checkpoints) && checkpoints >= 1)) throw new RangeError(`WEIR_BENCH_ROCKSDB_PAUSE_CHECKPOINTS must be a positive integer, got ${process.env.WEIR_BENCH_ROCKSDB_PAUSE_CHECKPOINTS}`);
        for (const backend of backends) rows.push(await checkpointPause(backend, pauseKeys, rate, checkpoints, localDir, log));
      }
      if (parts.has('reads')) rows.push(await readsDuringCheckpoint(quick ? 50_000 : 300_000, quick ? 10_000 : 60_000, localDir, log));
      if (parts.has('large')) {
        // Large: several GB (3.2M keys, ~3 GB) in a 1 GiB heap, on RocksDB only (the heap backend cannot hold it).
        const largeKeys = large ? 3_200_000 : quick ? 250_000 : 600_000;
        const interval = large ? 20_000 : 5_000;
        for (const backend of large ? (['rocksdb-incremental'] as const) : (['rocksdb', 'heap'] as const)) {
          const o = await largeState(backend, largeKeys, interval, localDir, large ? 1024 : HEAP_CAP_MB);
          log(`[${NAME}] larger than the heap, ${backend}, ${largeKeys} keys: exit ${o.exitCode ?? o.signal} after ${(o.wallMs / 1000).toFixed(1)} s${o.result ? `, ${JSON.stringify(o.result)}` : ''}${o.stderrTail ? `\n${o.stderrTail}` : ''}`);
          rows.push(largeStateRow(o, interval));
        }
      }
    } finally {
      rmSync(localDir, { recursive: true, force: true });
    }
    return rows;
  },
};
