/**
 * recovery: the time from a failure to the first record processed by the restarted attempt, with
 * 10 MB, 100 MB and 1 GB of keyed state to restore (quick: 10 MB), on the heap by default.
 *
 * The job (jobs/checkpoint-state.ts, threads mode, parallelism 1) builds its state and takes one
 * checkpoint (client.triggerCheckpoint()); its restart strategy is fixed-delay with a 0 ms delay,
 * so what is measured is the engine's own cost. Then, `runs` times, the benchmark tells the keyed
 * function to throw at its next record; the job cancels the attempt and deploys a new one from
 * that checkpoint. Times, all taken where they happen and compared as absolute times:
 *   failure   the keyed function is about to throw (worker of the failed attempt)
 *   cancel    → the failed attempt's worker thread has exited (process 'worker' / 'exit' events)
 *   spawn     → the new attempt's worker thread is created
 *   start-up  → the job module starts evaluating in that thread (thread start, TypeScript loader,
 *               engine and job module imports)
 *   restore   → the keyed function is opened, after its state was restored (graph check, task
 *               set-up, reading, verifying and decoding the state files, filling the backend)
 *   start     → the first record reaches the keyed function (ready, start, source resumes)
 * and the first record's key must find its state restored.
 *
 * WEIR_BENCH_RECOVERY_BACKENDS (default `heap`) chooses the keyed state backends, each at every
 * size: `heap`; `rocksdb-local` and `rocksdb-remote` (incremental RocksDB checkpoints restored from
 * the task-local copy, or with local recovery off from the checkpoint storage); `changelog-local`
 * and `changelog-remote` (the change log: one materialization, then log checkpoints).
 * WEIR_BENCH_RECOVERY_SIZES (`10mb,100mb,1gb`) chooses the sizes.
 */
import type { Worker } from 'node:worker_threads';
import { startStateJob, sleep, subtaskFigures } from './checkpoint-pause.ts';
import { median, RssSampler, type Benchmark, type BenchOptions, type DetailRow } from './harness.ts';
import { absNow, STATE_100MB, STATE_10MB, STATE_1GB, type StateJobReport, type StateSize } from './jobs/checkpoint-common.ts';

/** Keyed state backends the benchmark can restore, by name (WEIR_BENCH_RECOVERY_BACKENDS). */
const BACKENDS: Readonly<Record<string, Record<string, unknown>>> = {
  heap: {},
  'rocksdb-local': { 'state.backend.type': 'rocksdb', 'state.backend.incremental': true, 'state.backend.local-recovery': true },
  'rocksdb-remote': { 'state.backend.type': 'rocksdb', 'state.backend.incremental': true },
  'changelog-local': { 'state.backend.type': 'rocksdb', 'state.backend.changelog.enabled': true, 'state.backend.local-recovery': true },
  'changelog-remote': { 'state.backend.type': 'rocksdb', 'state.backend.changelog.enabled': true },
};

const SIZES: Readonly<Record<string, StateSize>> = { '10mb': STATE_10MB, '100mb': STATE_100MB, '1gb': STATE_1GB };

/** The comma-separated names of `env` (or `fallback`), each a key of `known`. */
function chosen<T>(env: string | undefined, fallback: string, known: Readonly<Record<string, T>>, what: string): [string, T][] {
  return (env ?? fallback).split(',').map((name) => {
    const v = known[name.trim()];
    if (v === undefined) throw new RangeError(`${what}: unknown ${JSON.stringify(name)}; known: ${Object.keys(known).join(', ')}`);
    return [name.trim(), v];
  });
}

/** Steady processing between the checkpoint or a recovery and the next failure. */
const STEADY_MS = 500;

type Of<T extends StateJobReport['type']> = Extract<StateJobReport, { type: T }>;

interface RecoveryFigures {
  readonly attempt: number;
  readonly totalMs: number;
  readonly cancelMs: number;
  readonly spawnMs: number;
  readonly startupMs: number;
  readonly restoreMs: number;
  readonly startMs: number;
  readonly restored: boolean;
}

interface ThreadRecord {
  readonly threadId: number;
  readonly spawnAt: number;
  exitAt: number | undefined;
}

async function measureSize(size: StateSize, recoveries: number, options: BenchOptions, backend: string, config: Record<string, unknown>): Promise<DetailRow> {
  const { log } = options;
  const rss = new RssSampler();
  const threads: ThreadRecord[] = [];
  const onWorker = (worker: Worker): void => {
    const record: ThreadRecord = { threadId: worker.threadId, spawnAt: absNow(), exitAt: undefined };
    threads.push(record);
    worker.once('exit', () => {
      record.exitAt = absNow();
    });
  };
  process.on('worker', onWorker);
  const runId = `${process.pid}-recovery-${backend}-${size.keys}`;
  const figures: RecoveryFigures[] = [];
  let checkpoint: { endToEndMs: number; syncMs: number; asyncMs: number; stateBytes: number };
  let numRestarts: number;
  try {
    const run = await startStateJob(size, runId, recoveries, log, config);
    try {
      await sleep(STEADY_MS);
      await run.client.triggerCheckpoint();
      if (config['state.backend.changelog.enabled'] === true) {
        // The first checkpoint materializes; the one restored is a log checkpoint over it.
        await sleep(STEADY_MS);
        await run.client.triggerCheckpoint();
      }
      const entry = (await run.client.getCheckpointStats())?.latest.completed ?? undefined;
      checkpoint = { endToEndMs: entry?.end_to_end_duration ?? NaN, ...subtaskFigures(entry), stateBytes: entry?.state_size ?? NaN };
      log(`  ${size.label}, ${backend}: checkpoint of ${(checkpoint.stateBytes / 1e6).toFixed(1)} MB took ${checkpoint.endToEndMs} ms`);
      const { inbox } = run;
      const thread = (id: number, what: string): ThreadRecord => {
        const t = threads.find((x) => x.threadId === id);
        if (!t) throw new Error(`no worker thread ${id} (${what}) was seen starting`);
        return t;
      };
      for (let attempt = 0; attempt < recoveries; attempt++) {
        await sleep(STEADY_MS);
        const from = inbox.reports.length;
        run.commands.postMessage({ type: 'fail' });
        const failing = await inbox.waitFor(`the failure of attempt ${attempt}`, (r): r is Of<'failing'> => r.type === 'failing' && r.attempt === attempt, 30_000, from);
        const next = attempt + 1;
        const first = await inbox.waitFor(`the first record of attempt ${next}`, (r): r is Of<'first'> => r.type === 'first' && r.attempt === next, 600_000, from);
        const opened = inbox.reports.filter((r): r is Of<'open'> => r.type === 'open');
        const oldOpen = opened.find((r) => r.attempt === attempt);
        const newOpen = opened.find((r) => r.attempt === next);
        if (!oldOpen || !newOpen) throw new Error(`attempt ${attempt} or ${next} did not report opening its keyed function`);
        const module = inbox.reports.find((r): r is Of<'module'> => r.type === 'module' && r.threadId === newOpen.threadId);
        if (!module) throw new Error(`attempt ${next}: its worker did not report loading the job module`);
        const oldThread = thread(oldOpen.threadId, `attempt ${attempt}`);
        const newThread = thread(newOpen.threadId, `attempt ${next}`);
        const exitAt = oldThread.exitAt ?? NaN;
        const f: RecoveryFigures = {
          attempt: next,
          totalMs: first.at - failing.at,
          cancelMs: exitAt - failing.at,
          spawnMs: newThread.spawnAt - exitAt,
          startupMs: module.at - newThread.spawnAt,
          restoreMs: newOpen.at - module.at,
          startMs: first.at - newOpen.at,
          restored: first.restored,
        };
        figures.push(f);
        log(
          `  ${size.label}, ${backend}: recovery ${next}/${recoveries}: ${f.totalMs.toFixed(0)} ms = cancel ${f.cancelMs.toFixed(0)} + spawn ${f.spawnMs.toFixed(0)} ` +
            `+ start-up ${f.startupMs.toFixed(0)} + restore ${f.restoreMs.toFixed(0)} + start ${f.startMs.toFixed(0)} ms; state restored: ${f.restored}`,
        );
      }
      numRestarts = await run.client.getNumRestarts();
    } finally {
      await run.stop();
    }
  } finally {
    process.off('worker', onWorker);
  }
  const peakRss = rss.peak;
  rss.stop();
  if (numRestarts !== recoveries) throw new Error(`the job restarted ${numRestarts} times, expected ${recoveries}`);
  const restoredAll = figures.every((f) => f.restored);
  const fmt = (ms: number) => `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
  const med = (pick: (f: RecoveryFigures) => number) => fmt(median(figures.map(pick)));
  return {
    kind: 'detail',
    benchmark: 'recovery',
    table: 'recovery: injected failure → first record processed by the restarted attempt (threads, p=1, fixed-delay restart with 0 ms delay; medians)',
    mode: 'threads',
    parallelism: 1,
    runs: figures.length,
    cells: {
      benchmark: 'recovery',
      backend,
      state: size.label,
      'checkpoint size': `${(checkpoint.stateBytes / 1e6).toFixed(1)} MB`,
      recoveries: String(figures.length),
      'failure → first record': `${med((f) => f.totalMs)} (${figures.map((f) => f.totalMs.toFixed(0)).join(', ')})`,
      cancel: med((f) => f.cancelMs),
      'new worker': med((f) => f.spawnMs),
      'worker start-up': med((f) => f.startupMs),
      restore: med((f) => f.restoreMs),
      'start → first record': med((f) => f.startMs),
      'state restored': restoredAll ? 'yes' : 'NO',
      'peak RSS': `${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    },
    figures: {
      backend,
      stateLabel: size.label,
      targetBytes: size.bytes,
      keys: size.keys,
      restartStrategy: { kind: 'fixed-delay', attempts: recoveries, delayMs: 0 },
      checkpoint,
      peakRssBytes: peakRss,
      recoveries: figures,
    },
  };
}

export const recovery: Benchmark = {
  name: 'recovery',
  summary: 'injected failure → first record after restoring 10 MB, 100 MB, 1 GB keyed state (heap; RocksDB local or remote with WEIR_BENCH_RECOVERY_BACKENDS), threads p=1',
  execArgv: ({ quick }) => (quick ? [] : ['--max-old-space-size=8192']),
  async run(options) {
    const sizes = chosen(process.env.WEIR_BENCH_RECOVERY_SIZES, options.quick ? '10mb' : '10mb,100mb,1gb', SIZES, 'WEIR_BENCH_RECOVERY_SIZES');
    const backends = chosen(process.env.WEIR_BENCH_RECOVERY_BACKENDS, 'heap', BACKENDS, 'WEIR_BENCH_RECOVERY_BACKENDS');
    const rows: DetailRow[] = [];
    for (const [, size] of sizes) for (const [name, config] of backends) rows.push(await measureSize(size, options.runs, options, name, config));
    return rows;
  },
};
