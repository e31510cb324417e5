/**
 * worker-startup: where the start-up time of a slot worker goes.
 *
 *   node bin/node-ts.mjs bench/worker-startup.ts [--runs=N] [--parallelism=P] [--engine=bundle|sources|both]
 *
 * Runs the keyed-count job with one record (jobs/keyed-count.ts, threads mode, the fixed-overhead
 * run of the keyed-count benchmark) `runs` times after one warm-up, and splits each worker's
 * start-up into phases, timed where they happen (absolute times, see StartupMark):
 *   thread          new Worker() → the worker's entry starts (thread and Node environment)
 *   engine bundle   → the precompiled engine found (or built, on the first use of a source version)
 *   loader          → module loader hooks registered (bundle), or tsx registered (sources)
 *   engine          → the worker runtime and the engine modules it imports loaded
 *   job module      → the job module imported and run up to its execute() call
 *   graph           → the job graph rebuilt and checked against the launcher's
 *   deploy          → the slot's tasks set up
 *   ready           → the launcher received 'ready'
 * and reports the job's execute() wall time beside them. `--engine=both` (the default) runs the
 * bundled engine and the TypeScript sources (WEIR_ENGINE_BUNDLE=0) in alternation, so that both
 * see the same machine. Not part of `npm run bench`.
 */
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { runJob } from 'weir/testing';
import type { FromWorker, StartupMark } from '../src/runtime/worker/protocol.ts';

type Engine = 'bundle' | 'sources';

interface Args {
  runs: number;
  parallelism: number;
  engines: Engine[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { runs: 10, parallelism: 1, engines: ['bundle', 'sources'] };
  for (const a of argv) {
    const [name, value = ''] = a.split('=', 2) as [string, string?];
    if (name === '--runs') args.runs = Number(value);
    else if (name === '--parallelism') args.parallelism = Number(value);
    else if (name === '--engine' && (value === 'bundle' || value === 'sources')) args.engines = [value];
    else if (name === '--engine' && value === 'both') args.engines = ['bundle', 'sources'];
    else throw new Error(`unknown argument ${a}; usage: worker-startup.ts [--runs=N] [--parallelism=P] [--engine=bundle|sources|both]`);
  }
  if (!(Number.isInteger(args.runs) && args.runs >= 1)) throw new Error('--runs needs a positive integer');
  if (!(Number.isInteger(args.parallelism) && args.parallelism >= 1)) throw new Error('--parallelism needs a positive integer');
  return args;
}

const JOB = fileURLToPath(new URL('./jobs/keyed-count.ts', import.meta.url));
const PHASES = ['thread', 'engine bundle', 'loader', 'engine', 'job module', 'graph', 'deploy', 'ready'] as const;
type Phase = (typeof PHASES)[number];
/** The mark that ends each phase. */
const END: Record<Phase, string> = {
  thread: 'bootstrap',
  'engine bundle': 'engine-bundle',
  loader: 'loader',
  engine: 'engine',
  'job module': 'pipeline',
  graph: 'graph',
  deploy: 'deployed',
  ready: 'received',
};

interface WorkerStartup {
  readonly spawnAt: number;
  marks: StartupMark[] | undefined;
}

const absNow = () => performance.timeOrigin + performance.now();

/** Phase durations of one worker: from the previous mark present to the phase's own mark. */
function phasesOf(w: WorkerStartup): Partial<Record<Phase | 'total', number>> {
  const at = new Map(w.marks!.map(([phase, t]) => [phase, t]));
  const out: Partial<Record<Phase | 'total', number>> = {};
  let previous = w.spawnAt;
  for (const p of PHASES) {
    const t = at.get(END[p]);
    if (t === undefined) continue;
    out[p] = t - previous;
    previous = t;
  }
  out.total = at.get('received')! - w.spawnAt;
  return out;
}

async function runOnce(engine: Engine, parallelism: number, id: string): Promise<{ wallMs: number; workers: WorkerStartup[] }> {
  const workers: WorkerStartup[] = [];
  const onWorker = (worker: Worker): void => {
    const record: WorkerStartup = { spawnAt: absNow(), marks: undefined };
    workers.push(record);
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') record.marks = [...(m.startup ?? []), ['received', absNow()]];
    });
  };
  const saved = process.env.WEIR_ENGINE_BUNDLE;
  if (engine === 'sources') process.env.WEIR_ENGINE_BUNDLE = '0';
  else delete process.env.WEIR_ENGINE_BUNDLE;
  process.on('worker', onWorker);
  try {
    const t0 = performance.now();
    await runJob(JOB, { args: ['1', `worker-startup-${id}`], mode: 'threads', parallelism });
    const wallMs = performance.now() - t0;
    if (workers.length !== parallelism || workers.some((w) => w.marks === undefined)) {
      throw new Error(`expected ${parallelism} worker(s) reporting their start-up, saw ${workers.filter((w) => w.marks).length} of ${workers.length}`);
    }
    return { wallMs, workers };
  } finally {
    process.off('worker', onWorker);
    if (saved === undefined) delete process.env.WEIR_ENGINE_BUNDLE;
    else process.env.WEIR_ENGINE_BUNDLE = saved;
  }
}

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const fmt = (ms: number) => (Number.isNaN(ms) ? '–' : `${ms.toFixed(1)} ms`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const samples = new Map<Engine, { wall: number[]; phases: Partial<Record<Phase | 'total', number>>[] }>();
  for (const e of args.engines) samples.set(e, { wall: [], phases: [] });
  for (const e of args.engines) await runOnce(e, args.parallelism, `warm-up-${e}`);
  for (let round = 0; round < args.runs; round++) {
    for (const e of args.engines) {
      const r = await runOnce(e, args.parallelism, `${e}-${round}`);
      const s = samples.get(e)!;
      s.wall.push(r.wallMs);
      for (const w of r.workers) s.phases.push(phasesOf(w));
      process.stderr.write(`  ${e} run ${round + 1}/${args.runs}: execute() ${r.wallMs.toFixed(0)} ms, worker total ${r.workers.map((w) => phasesOf(w).total!.toFixed(0)).join(', ')} ms\n`);
    }
  }

  const columns = [...PHASES, 'total', 'execute() (N=1)'] as const;
  const header = ['engine', ...columns];
  const rows = args.engines.map((e) => {
    const s = samples.get(e)!;
    return [
      e,
      ...PHASES.map((p) => fmt(median(s.phases.flatMap((x) => (x[p] === undefined ? [] : [x[p]!]))))),
      fmt(median(s.phases.map((x) => x.total!))),
      fmt(median(s.wall)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(
    `\nworker start-up, keyed-count job with N=1, threads, p=${args.parallelism}, ${args.runs} runs after a warm-up; ` +
      `medians over ${args.runs * args.parallelism} workers (phases) and ${args.runs} jobs (execute()), Node ${process.version}\n`,
  );
  console.log(line(header));
  console.log(`| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
  for (const r of rows) console.log(line(r));
}

await main();
