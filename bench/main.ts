/**
 * weir benchmarks.
 *
 *   npm run bench                        every benchmark, full sizes, 3 measured runs each
 *   npm run bench -- --quick             smaller sizes, 2 measured runs
 *   npm run bench -- keyed-count ...     only the named benchmark(s)
 *   npm run bench -- --runs=5            another number of measured runs
 *
 * Each benchmark runs in a child process of its own (this file with --child), so that one
 * benchmark's JIT feedback and heap do not colour the next one's figures or peak RSS; the weir
 * job and its plain-loop equivalent of one benchmark do run in the same process. Progress goes
 * to stderr; the table goes to stdout and every figure to bench/results/<date>-<commit>.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chainedMapFilter } from './chained-map-filter.ts';
import { exchange } from './exchange.ts';
import { checkpointOverhead } from './checkpoint-overhead.ts';
import { checkpointPause } from './checkpoint-pause.ts';
import {
  formatDetailTables,
  formatTable,
  isDetailRow,
  parallelCapacity,
  type Benchmark,
  type BenchOptions,
  type DetailRow,
  type Row,
} from './harness.ts';
import { keyedCount } from './keyed-count.ts';
import { keyedCountP2 } from './keyed-count-p2.ts';
import { nexmark } from './nexmark.ts';
import { recovery } from './recovery.ts';
import { rocksdbIncremental } from './rocksdb-incremental.ts';
import { rocksdbState } from './rocksdb-state.ts';
import { trivialJob } from './trivial-job.ts';
import { unalignedCheckpoints } from './unaligned-checkpoints.ts';
import { userKeyed } from './user-keyed.ts';
import { userKeyedCheckpoints } from './user-keyed-checkpoints.ts';

const BENCHMARKS: readonly Benchmark[] = [chainedMapFilter, keyedCount, keyedCountP2, checkpointOverhead, checkpointPause, unalignedCheckpoints, recovery, nexmark, rocksdbState, rocksdbIncremental, userKeyed, userKeyedCheckpoints, trivialJob, exchange];

const root = fileURLToPath(new URL('..', import.meta.url));

interface Args {
  quick: boolean;
  runs: number | undefined;
  names: string[];
  child: string | undefined;
  out: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, runs: undefined, names: [], child: undefined, out: undefined };
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a.startsWith('--runs=')) args.runs = Number(a.slice('--runs='.length));
    else if (a.startsWith('--child=')) args.child = a.slice('--child='.length);
    else if (a.startsWith('--out=')) args.out = a.slice('--out='.length);
    else if (a === '--help' || a === '-h') {
      console.log(`usage: npm run bench -- [--quick] [--runs=N] [name...]\nbenchmarks:\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(20)} ${b.summary}`).join('\n')}`);
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}; see --help`);
    else args.names.push(a);
  }
  if (args.runs !== undefined && !(Number.isInteger(args.runs) && args.runs >= 1)) throw new Error('--runs needs a positive integer');
  for (const name of [...args.names, ...(args.child ? [args.child] : [])]) {
    if (!BENCHMARKS.some((b) => b.name === name)) {
      throw new Error(`unknown benchmark "${name}"; there are: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    }
  }
  return args;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** In the child: run one benchmark and write its rows as JSON. */
async function runChild(args: Args): Promise<void> {
  const bench = BENCHMARKS.find((b) => b.name === args.child)!;
  const options: BenchOptions = { quick: args.quick, runs: args.runs ?? (args.quick ? 2 : 3), log };
  const rows = await bench.run(options);
  writeFileSync(args.out!, JSON.stringify(rows));
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function machine() {
  const list = cpus();
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cpuCount: list.length,
    availableParallelism: availableParallelism(),
    totalMemoryBytes: totalmem(),
    platform: platform(),
    osRelease: release(),
    node: process.version,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return runChild(args);

  const selected = args.names.length > 0 ? BENCHMARKS.filter((b) => args.names.includes(b.name)) : BENCHMARKS;
  const mode = args.quick ? 'quick' : 'full';
  const started = new Date();
  const info = machine();
  log(`weir benchmarks (${mode}): ${info.cpuCount} × ${info.cpuModel}, ${(info.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${info.node}`);

  // Before and after: the machine is shared, and the cores it leaves us decide what p=2 can show.
  const capacity = { before: await parallelCapacity(), after: NaN };
  log(`parallel capacity: 2 spinning threads got ${capacity.before.toFixed(2)} cores`);

  const tmp = mkdtempSync(join(tmpdir(), 'weir-bench-'));
  const rows: (Row | DetailRow)[] = [];
  const failed: string[] = [];
  try {
    for (const bench of selected) {
      const out = join(tmp, `${bench.name}.json`);
      const childArgs = [`--child=${bench.name}`, `--out=${out}`, ...(args.quick ? ['--quick'] : []), ...(args.runs ? [`--runs=${args.runs}`] : [])];
      const execArgv = bench.execArgv?.({ quick: args.quick }) ?? [];
      const child = spawnSync(process.execPath, [...execArgv, join(root, 'bin/node-ts.mjs'), join(root, 'bench/main.ts'), ...childArgs], {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (child.status !== 0) {
        log(`[${bench.name}] FAILED (exit ${child.status ?? child.signal})`);
        failed.push(bench.name);
        continue;
      }
      rows.push(...(JSON.parse(readFileSync(out, 'utf8')) as (Row | DetailRow)[]));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  capacity.after = await parallelCapacity();
  const commit = gitCommit();
  const stamp = started.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
  const file = join(root, 'bench/results', `${stamp}-${commit ?? 'nocommit'}.json`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({ date: started.toISOString(), commit: commit ?? null, mode, machine: info, parallelCapacity: capacity, benchmarks: selected.map((b) => b.name), failed, rows }, null, 2) + '\n',
  );

  console.log(`\nweir benchmarks, ${mode} run, ${started.toISOString()}, commit ${commit ?? 'unknown'}`);
  console.log(`${info.cpuCount} × ${info.cpuModel}, ${(info.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${info.node}`);
  console.log(`parallel capacity (CPU/wall of 2 spinning threads, 2.00 = two free cores): ${capacity.before.toFixed(2)} before, ${capacity.after.toFixed(2)} after\n`);
  const throughput = rows.filter((r): r is Row => !isDetailRow(r));
  const details = rows.filter(isDetailRow);
  if (throughput.length > 0) {
    console.log(formatTable(throughput));
    console.log(
      '\nrec/s: N / median wall time of the whole execute() call (worker start-up included), after one warm-up; ' +
        'fixed overhead: median execute() time with N=1; rec/CPU-s: N / median process CPU time (all threads) during execute(); ' +
        'CPU/wall: that CPU time / wall time (below 1 for a single-threaded job means other tenants took the CPU). ' +
        'vs baseline row: rate / rate of the benchmark\'s baseline row, measured interleaved (keyed-count-p2: p=2 over p=1; ' +
        'checkpoint-overhead: with checkpoints over without).',
    );
  }
  if (details.length > 0) console.log(`\n${formatDetailTables(details)}`);
  console.log(`figures: ${file}`);
  if (failed.length > 0) {
    console.log(`FAILED: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (e) {
  // Usage errors and failed benchmarks: the message (and for failures, the stack) is enough.
  console.error(e instanceof Error && e.message.startsWith('unknown') ? `bench: ${e.message}` : e);
  process.exitCode = 1;
}
