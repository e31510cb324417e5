/**
 * unaligned-checkpoints: how long checkpoints take, what they store and what they cost in
 * throughput under steady backpressure, with no checkpoints, aligned checkpoints, unaligned
 * checkpoints (aligned-checkpoint timeout 0) and aligned checkpoints that switch to unaligned
 * after a short timeout.
 *
 * The job (jobs/backpressured-exchange.ts) is fromSequence → rebalance → a sink that spins
 * COST_US µs per record, at parallelism 2, so every barrier crosses an exchange whose channels
 * are full. In threads mode each slot is a worker thread holding one source and one sink
 * subtask, so of each sink's two input channels one is remote (MessagePort) and one local; inline
 * mode (every channel local, one thread) is measured too.
 *
 * Parameters, and why:
 * - COST_US = 20 µs per record: expensive per-record work (a parse, an enrichment, a write) that
 *   makes the sink the bottleneck, about 50k records/s per sink subtask. With the default network
 *   settings (4 credits per channel, batches of up to 4096 records / 128 KiB) each channel holds
 *   up to 4 batches in flight plus what waits at the producer, and a sink has two such channels:
 *   measured, about 30k records per sink are in flight in front of a barrier (an unaligned
 *   checkpoint persists about 150 kB per sink, 5 bytes per record), so draining them takes
 *   30k × 20 µs ≈ 0.6 s on a free core, which is what an aligned checkpoint waits for.
 * - INTERVAL_MS = 2 s: long enough that an aligned checkpoint under this load completes before
 *   the next is due (max-concurrent-checkpoints is 1, as unaligned checkpoints require), short
 *   enough for several checkpoints per run.
 * - ALIGNED_TIMEOUT_MS = 100 ms: a short aligned-checkpoint timeout, well below the alignment
 *   time, so the checkpoint starts aligned and switches to unaligned during the alignment.
 * - Runs of SECONDS of input at the expected rate (quick: fewer), the default network settings,
 *   exactly-once, checkpoints written to a fresh directory under os.tmpdir().
 *
 * Per configuration (mode × checkpointing) the benchmark runs the job `runs` times, interleaved
 * (each round runs every configuration once), after one warm-up run of each mode. During a run it
 * polls getCheckpointStats() (the history keeps only the newest entries) and keeps every
 * checkpoint's final entry. Reported per configuration, over all completed checkpoints of all
 * runs: end-to-end duration (median, max), persisted in-flight bytes per checkpoint (median,
 * max), the checkpoint type, the longest alignment, and the delays until the sources and the
 * sinks saw the checkpoint (start_delay; for a sink, its first barrier); and the throughput
 * through the sinks (records over the time from the first record any sink took to the last),
 * median over runs, relative to the run without checkpoints of the same round (median of the
 * per-round ratios). Every run's output is checked (count and largest record), and a run fails if
 * a checkpoint failed for another reason than the input ending. Checkpoints triggered after a
 * sink's input ended (the final checkpoint, with nothing in flight) are shown in the progress
 * output but left out of the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import type { JobClient } from 'weir';
import { startJob } from 'weir/testing';
import { formatRate, median, realCheckpointFailures, RssSampler, type Benchmark, type BenchOptions, type DetailRow, type Mode } from './harness.ts';
import { checkpointingArg, type Checkpointing, type TimedSinkReport } from './jobs/backpressured-common.ts';
import { channelName, type ExecReport } from './jobs/common.ts';

const job = fileURLToPath(new URL('./jobs/backpressured-exchange.ts', import.meta.url));

const NAME = 'unaligned-checkpoints';
const PARALLELISM = 2;
/** Spin per record in the sink, µs. */
const COST_US = 20;
const INTERVAL_MS = 2000;
const ALIGNED_TIMEOUT_MS = 100;
/** How often the checkpoint statistics are read during a run, ms. */
const POLL_MS = 200;

type CheckpointStats = NonNullable<Awaited<ReturnType<JobClient['getCheckpointStats']>>>;
type Entry = CheckpointStats['history'][number];

interface Variant {
  readonly label: string;
  readonly checkpointing: Checkpointing;
}

const VARIANTS: readonly Variant[] = [
  { label: 'no checkpoints', checkpointing: { kind: 'off' } },
  { label: 'aligned', checkpointing: { kind: 'aligned' } },
  { label: 'unaligned', checkpointing: { kind: 'unaligned', alignedTimeoutMs: 0 } },
  { label: `aligned, timeout ${ALIGNED_TIMEOUT_MS} ms`, checkpointing: { kind: 'unaligned', alignedTimeoutMs: ALIGNED_TIMEOUT_MS } },
];

/** One completed (or failed) checkpoint, as the benchmark keeps it. */
interface CheckpointFigures {
  readonly id: number;
  /** Trigger time, ms since the epoch. */
  readonly triggerAt: number;
  readonly status: Entry['status'];
  readonly type: Entry['checkpoint_type'];
  readonly endToEndMs: number;
  readonly persistedBytes: number;
  readonly stateBytes: number;
  /** Subtasks that acknowledged unaligned. */
  readonly unalignedSubtasks: number;
  /** Longest alignment of a subtask, ms. */
  readonly alignmentMs: number;
  /** From the trigger until the last source subtask took its snapshot, and until the last sink subtask saw its first barrier, ms. */
  readonly sourceStartDelayMs: number;
  readonly sinkStartDelayMs: number;
  /** From the trigger until the last sink subtask acknowledged, ms. */
  readonly sinkAckMs: number;
  /** Longest asynchronous part of a sink subtask (for an unaligned one: storing its channel state, which waits until the data its barrier overtook has arrived), ms. */
  readonly sinkAsyncMs: number;
  readonly failure: string | undefined;
}

interface RunFigures {
  readonly wallMs: number;
  /** Records through the sinks per second, from the first record any sink took to the last. */
  readonly sinkRate: number;
  /** When the first sink subtask's input ended (absolute ms): checkpoints triggered later ran without backpressure. */
  readonly inputEndedAt: number;
  readonly checkpoints: CheckpointFigures[];
  readonly realFailures: string[];
}

let runCounter = 0;

function describe(mode: Mode, v: Variant): string {
  return `${mode} p=${PARALLELISM} (${v.label})`;
}

/**
 * The figures of one checkpoint's stats entry. The job has two vertices, told apart by the
 * vertex id in the subtask keys (`vertex/subtask`): vertices are numbered from the sources
 * downstream, so the lower id is the source.
 */
function figuresOf(entry: Entry): CheckpointFigures {
  const subs = Object.entries(entry.subtasks).map(([key, s]) => ({ vertex: Number(key.split('/')[0]), s }));
  const vertices = [...new Set(subs.map((x) => x.vertex))].sort((a, b) => a - b);
  const source = subs.filter((x) => x.vertex === vertices[0]).map((x) => x.s);
  const sink = subs.filter((x) => x.vertex !== vertices[0]).map((x) => x.s);
  const maxOf = (values: number[]) => (values.length === 0 ? NaN : Math.max(...values));
  return {
    id: entry.id,
    triggerAt: entry.trigger_timestamp,
    status: entry.status,
    type: entry.checkpoint_type,
    endToEndMs: entry.end_to_end_duration,
    persistedBytes: entry.persisted_data,
    stateBytes: entry.state_size,
    unalignedSubtasks: subs.filter((x) => x.s.unaligned_checkpoint).length,
    alignmentMs: maxOf(subs.map((x) => x.s.alignment_duration)),
    sourceStartDelayMs: maxOf(source.map((s) => s.start_delay)),
    sinkStartDelayMs: maxOf(sink.map((s) => s.start_delay)),
    sinkAckMs: maxOf(sink.map((s) => s.ack_timestamp - entry.trigger_timestamp)),
    sinkAsyncMs: maxOf(sink.map((s) => s.async_duration)),
    failure: entry.failure_message,
  };
}

/** One run of the job over 1..n. */
async function runOnce(mode: Mode, v: Variant, n: number): Promise<RunFigures> {
  const runId = `${process.pid}-unaligned-${++runCounter}`;
  const channel = new BroadcastChannel(channelName(runId));
  const sinks: TimedSinkReport[] = [];
  let exec: ExecReport | undefined;
  channel.onmessage = (event) => {
    const report = (event as { data: TimedSinkReport | ExecReport }).data;
    if (report.type === 'timed-sink') sinks.push(report);
    else if (report.type === 'exec') exec = report;
  };
  const off = v.checkpointing.kind === 'off';
  const dir = off ? undefined : mkdtempSync(join(tmpdir(), 'weir-bench-unaligned-'));
  const seen = new Map<number, Entry>();
  const keep = (stats: CheckpointStats | undefined) => {
    for (const h of stats?.history ?? []) if (h.status !== 'IN_PROGRESS') seen.set(h.id, h);
  };
  try {
    const client = await startJob(job, {
      args: [String(n), runId, String(COST_US), checkpointingArg(v.checkpointing), String(INTERVAL_MS), ...(dir === undefined ? [] : [dir])],
      mode,
      parallelism: PARALLELISM,
    });
    let finished = false;
    const result = client.getJobExecutionResult().finally(() => {
      finished = true;
    });
    result.catch(() => {});
    while (!finished && !off) {
      keep(await client.getCheckpointStats());
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    await result;
    const stats = await client.getCheckpointStats();
    keep(stats);
    const deadline = Date.now() + 5000;
    while (exec === undefined || sinks.length === 0 || sinks.length < sinks[0]!.subtasks) {
      if (Date.now() > deadline) throw new Error(`${describe(mode, v)}: the job finished but its reports did not arrive`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const count = sinks.reduce((a, s) => a + s.count, 0);
    const max = Math.max(...sinks.map((s) => s.max));
    if (count !== n || max !== n) throw new Error(`${describe(mode, v)} over 1..${n} is wrong: got count ${count}, max ${max}; expected ${n}, ${n}`);
    const first = Math.min(...sinks.filter((s) => s.count > 0).map((s) => s.firstAt));
    const last = Math.max(...sinks.filter((s) => s.count > 0).map((s) => s.lastAt));
    const entries = [...seen.values()].sort((a, b) => a.id - b.id);
    const inputEndedAt = Math.min(...sinks.filter((s) => s.count > 0).map((s) => s.lastAt));
    return {
      wallMs: (exec as ExecReport).wallMs,
      sinkRate: n / ((last - first) / 1000),
      inputEndedAt,
      checkpoints: entries.map(figuresOf),
      // Besides what realCheckpointFailures leaves out: a checkpoint still in flight when a sink's
      // input ended is subsumed by the final checkpoint, which only says that the input ended.
      realFailures: realCheckpointFailures({ history: entries.filter((e) => !(e.status === 'FAILED' && (e.failure_timestamp ?? 0) >= inputEndedAt)) }),
    };
  } finally {
    channel.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? `${ms.toFixed(0)} ms` : '–';
}

function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return '–';
  if (b >= 1e6) return `${(b / 1e6).toFixed(2)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(1)} kB`;
  return `${b} B`;
}

async function measureMode(mode: Mode, n: number, options: BenchOptions): Promise<DetailRow[]> {
  const { runs, log } = options;
  const rss = new RssSampler();
  const raw = VARIANTS.map(() => [] as RunFigures[]);
  let peakRss = 0;
  try {
    const warm = await runOnce(mode, VARIANTS[2]!, Math.round(n / 4));
    log(`[${NAME}] ${mode}: warm-up ${warm.wallMs.toFixed(0)} ms, ${formatRate(warm.sinkRate)} rec/s`);
    for (let r = 0; r < runs; r++) {
      for (const [i, v] of VARIANTS.entries()) {
        rss.reset();
        const f = await runOnce(mode, v, n);
        peakRss = Math.max(peakRss, rss.peak);
        const completed = f.checkpoints.filter((c) => c.status === 'COMPLETED');
        if (f.realFailures.length > 0) throw new Error(`${describe(mode, v)}: checkpoints failed: ${f.realFailures.join('; ')}`);
        if (v.checkpointing.kind !== 'off' && completed.length === 0) throw new Error(`${describe(mode, v)}: no checkpoint completed during the run`);
        raw[i]!.push(f);
        log(
          `[${NAME}] ${describe(mode, v)}: run ${r + 1}/${runs} ${f.wallMs.toFixed(0)} ms, sinks ${formatRate(f.sinkRate)} rec/s` +
            (completed.length === 0
              ? ''
              : `; checkpoints (id type e2e/source-delay/sink-delay/sink-async/sink-ack ms, persisted): ` +
                completed
                  .map(
                    (c) =>
                      `${c.triggerAt < f.inputEndedAt ? '' : '(after end of input) '}${c.id} ${c.type === 'UNALIGNED_CHECKPOINT' ? 'U' : 'A'} ${c.endToEndMs}/${c.sourceStartDelayMs}/${c.sinkStartDelayMs}/${c.sinkAsyncMs}/${c.sinkAckMs}, ${fmtBytes(c.persistedBytes)}`,
                  )
                  .join('; ')),
        );
      }
    }
  } finally {
    rss.stop();
  }
  const baseRates = raw[0]!.map((f) => f.sinkRate);
  const alignedE2e = median(raw[1]!.flatMap((f) => f.checkpoints.filter((c) => c.status === 'COMPLETED' && c.triggerAt < f.inputEndedAt).map((c) => c.endToEndMs)));
  return VARIANTS.map((v, i): DetailRow => {
    const fs = raw[i]!;
    // A checkpoint triggered once a sink's input ended (the final checkpoint) waits for no data; it is left out.
    const during = fs.flatMap((f) => f.checkpoints.filter((c) => c.status === 'COMPLETED' && c.triggerAt < f.inputEndedAt));
    const e2e = during.map((c) => c.endToEndMs);
    const persisted = during.map((c) => c.persistedBytes);
    const rate = median(fs.map((f) => f.sinkRate));
    const vsOff = median(fs.map((f, r) => f.sinkRate / baseRates[r]!));
    const off = v.checkpointing.kind === 'off';
    const types = [...new Set(during.map((c) => (c.type === 'UNALIGNED_CHECKPOINT' ? 'unaligned' : 'aligned')))].join(' + ');
    return {
      kind: 'detail',
      benchmark: NAME,
      table: `${NAME}: checkpoints under backpressure (fromSequence → rebalance → sink spinning ${COST_US} µs/record, p=${PARALLELISM}, every ${INTERVAL_MS / 1000} s)`,
      mode,
      parallelism: PARALLELISM,
      runs: fs.length,
      cells: {
        benchmark: NAME,
        mode,
        checkpointing: v.label,
        N: n.toLocaleString('en-US'),
        checkpoints: off ? '–' : String(during.length),
        'taken as': off ? '–' : types || '–',
        'end-to-end (median)': off ? '–' : fmtMs(median(e2e)),
        'end-to-end (max)': off ? '–' : fmtMs(Math.max(...e2e)),
        'vs aligned (median e2e)': off || i === 1 ? '–' : (median(e2e) / alignedE2e).toFixed(2),
        'persisted (median)': off ? '–' : fmtBytes(median(persisted)),
        'persisted (max)': off ? '–' : fmtBytes(Math.max(...persisted)),
        'source delay (median)': off ? '–' : fmtMs(median(during.map((c) => c.sourceStartDelayMs))),
        'sink first barrier (median)': off ? '–' : fmtMs(median(during.map((c) => c.sinkStartDelayMs))),
        'sink async (median)': off ? '–' : fmtMs(median(during.map((c) => c.sinkAsyncMs))),
        'sink rec/s': formatRate(rate),
        'vs no checkpoints': off ? '–' : vsOff.toFixed(2),
        'peak RSS': `${(peakRss / 2 ** 20).toFixed(0)} MiB`,
      },
      figures: {
        checkpointing: checkpointingArg(v.checkpointing),
        costUsPerRecord: COST_US,
        checkpointIntervalMs: INTERVAL_MS,
        n,
        wallMs: fs.map((f) => f.wallMs),
        sinkRecordsPerSec: fs.map((f) => f.sinkRate),
        sinkRateVsNoCheckpoints: fs.map((f, r) => f.sinkRate / baseRates[r]!),
        endToEndMedianMs: median(e2e),
        endToEndMaxMs: e2e.length === 0 ? NaN : Math.max(...e2e),
        persistedMedianBytes: median(persisted),
        persistedMaxBytes: persisted.length === 0 ? NaN : Math.max(...persisted),
        peakRssBytes: peakRss,
        checkpointsPerRun: fs.map((f) => f.checkpoints),
      },
    };
  });
}

export const unalignedCheckpoints: Benchmark = {
  name: NAME,
  summary: `checkpoint duration, persisted bytes, throughput under backpressure: none, aligned, unaligned, aligned with ${ALIGNED_TIMEOUT_MS} ms timeout; p=2`,
  async run(options) {
    // 100k rec/s through both sinks on two free cores; 27k–65k on the shared 2-core development machine.
    const n = options.quick ? 400_000 : 1_000_000;
    const rows: DetailRow[] = [];
    for (const mode of ['threads', 'inline'] as const) rows.push(...(await measureMode(mode, n, options)));
    return rows;
  },
};
