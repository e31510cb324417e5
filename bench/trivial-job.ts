/**
 * trivial-job: wall time of a trivial job (bench/jobs/trivial.ts: three elements, one map,
 * print) from command to exit through the CLI, `node bin/weir.mjs run <job>` in threads mode (the
 * default parallelism, and -p 1) and with --inline, against `node -e 0` (Node alone) and
 * `node bin/weir.mjs --version` (the CLI loaded, no job), each of them also as the installed
 * package runs it. Each command runs once to warm the file cache, then `runs` times in rounds
 * over the commands; the table has the median, min and max.
 * Every job run must exit 0 and print 2, 4 and 6.
 *
 * In a clone, bin/weir.mjs runs the engine's TypeScript sources through tsx. When the compiled
 * package is there (dist/, `npm run build`), the job also runs as an installed package runs it:
 * bench/weir-installed.mjs (bin/weir.mjs's dist/ path) from a temporary project whose
 * node_modules/weir links to this repository, so that the job's `import 'weir'` reaches dist/
 * (inside the repository, tsconfig.json's paths send it to src/).
 *
 * The CLI's `run` looks for a cluster (a recorded one, then 127.0.0.1:8081) before it runs the
 * job embedded; none is running during a benchmark, so that look-up is part of what is timed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type Benchmark, type DetailRow } from './harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const job = 'bench/jobs/trivial.ts';

interface Command {
  readonly label: string;
  readonly args: readonly string[];
  /** Whether the command runs the trivial job (its output is checked). */
  readonly runsJob: boolean;
  /** The job's parallelism (0: no job). */
  readonly parallelism: number;
  /** Runs in the temporary installed-package project instead of the repository. */
  readonly installed?: boolean;
}

const COMMANDS: readonly Command[] = [
  { label: 'node -e 0', args: ['-e', '0'], runsJob: false, parallelism: 0 },
  { label: 'node bin/weir.mjs --version', args: ['bin/weir.mjs', '--version'], runsJob: false, parallelism: 0 },
  {
    label: `node bin/weir.mjs run ${job} (threads, default parallelism ${availableParallelism()})`,
    args: ['bin/weir.mjs', 'run', job],
    runsJob: true,
    parallelism: availableParallelism(),
  },
  { label: `node bin/weir.mjs run -p 1 ${job} (threads)`, args: ['bin/weir.mjs', 'run', '-p', '1', job], runsJob: true, parallelism: 1 },
  { label: `node bin/weir.mjs run --inline ${job}`, args: ['bin/weir.mjs', 'run', '--inline', job], runsJob: true, parallelism: 1 },
];

const installedLauncher = join(root, 'bench/weir-installed.mjs');
const INSTALLED: readonly Command[] = [
  { label: 'installed package (dist/): weir --version', args: [installedLauncher, '--version'], runsJob: false, parallelism: 0, installed: true },
  {
    label: 'installed package (dist/): weir run trivial.ts (threads, default parallelism)',
    args: [installedLauncher, 'run', 'trivial.ts'],
    runsJob: true,
    parallelism: availableParallelism(),
    installed: true,
  },
  { label: 'installed package (dist/): weir run -p 1 trivial.ts (threads)', args: [installedLauncher, 'run', '-p', '1', 'trivial.ts'], runsJob: true, parallelism: 1, installed: true },
  { label: 'installed package (dist/): weir run --inline trivial.ts', args: [installedLauncher, 'run', '--inline', 'trivial.ts'], runsJob: true, parallelism: 1, installed: true },
];

/** A project depending on weir through node_modules/weir → this repository, with the trivial job in it. */
function installedProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-installed-'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'weir'), 'dir');
  copyFileSync(join(root, job), join(dir, 'trivial.ts'));
  return dir;
}

/** Runs the command once; returns its wall time from spawn to exit, checking its exit and output. */
function timeOnce(c: Command, project: string | undefined): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, c.args, { cwd: c.installed ? project : root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${c.label} exited with ${r.status ?? r.signal}: ${r.stderr}`);
  if (c.runsJob) {
    const values = r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => Number(l.replace(/^\d+> /, '')))
      .sort((a, b) => a - b);
    if (values.join(',') !== '2,4,6') throw new Error(`${c.label} printed ${JSON.stringify(r.stdout)}, expected 2, 4 and 6`);
  }
  return ms;
}

export const trivialJob: Benchmark = {
  name: 'trivial-job',
  summary: 'wall time of a three-element job from command to exit via the CLI (threads, inline) vs node -e 0',
  async run(options) {
    const runs = options.quick ? Math.max(options.runs, 3) : Math.max(options.runs, 15);
    const project = existsSync(join(root, 'dist/cli/main.js')) ? installedProject() : undefined;
    if (project === undefined) options.log('[trivial-job] dist/ is not built: the installed-package rows are left out (npm run build)');
    const commands = project === undefined ? COMMANDS : [...COMMANDS, ...INSTALLED];
    const times = commands.map(() => [] as number[]);
    try {
      for (const c of commands) timeOnce(c, project);
      for (let r = 0; r < runs; r++) {
        for (const [i, c] of commands.entries()) times[i]!.push(timeOnce(c, project));
        options.log(`[trivial-job] round ${r + 1}/${runs}: ${times.map((t) => t[r]!.toFixed(0)).join(', ')} ms`);
      }
    } finally {
      if (project !== undefined) rmSync(project, { recursive: true, force: true });
    }
    const bare = median(times[0]!);
    return commands.map((c, i): DetailRow => {
      const t = times[i]!;
      return {
        kind: 'detail',
        benchmark: 'trivial-job',
        table: 'trivial-job: wall time from command to exit (three elements → map → print), runs in rounds over the commands',
        mode: c.label.includes('--inline') ? 'inline' : 'threads',
        parallelism: c.parallelism,
        runs,
        cells: {
          command: c.label,
          runs: String(runs),
          median: `${median(t).toFixed(0)} ms`,
          min: `${Math.min(...t).toFixed(0)} ms`,
          max: `${Math.max(...t).toFixed(0)} ms`,
          'median beyond node -e 0': i === 0 ? '–' : `${(median(t) - bare).toFixed(0)} ms`,
        },
        figures: { command: ['node', ...c.args].join(' '), cwd: c.installed ? 'a temporary project with node_modules/weir linked to the repository' : root, wallMs: t },
      };
    });
  },
};
