/**
 * The launcher's first step for `weir run` with the compiled engine (bin/weir.mjs): start the
 * job's slot workers before the command line interface is even loaded, so that each worker's
 * thread and engine start while this thread loads the CLI, reads the command line and finds
 * the job. The workers learn their job when the job's group takes them (worker-group.ts).
 *
 * Only a plain embedded run in threads mode starts them: the command line is read here just far
 * enough to tell (the verb, the options before the job file, the job file present). Anything
 * this reading does not recognise starts none, and `weir run` then starts them itself as before
 * (run-job.ts), so a mistake here costs start-up time, never behaviour; workers no job takes
 * (a cluster found after all, a job that runs inline) stop or exit with the process.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startEarlyWorkers } from '../runtime/worker-group.ts';
import { expectedSlots } from './slot-count.ts';

/** Options of `weir run` that take a value, as separate or attached (`--name=value`) words. */
const VALUE_OPTIONS = new Set(['-p', '--parallelism', '-s', '--fromSavepoint', '-D']);
/** Switches that leave an embedded threads-mode run as it is. */
const NEUTRAL_SWITCHES = new Set(['-n', '--allowNonRestoredState']);

/**
 * How many workers to start early for the `weir run` arguments `args` (the words after `run`):
 * 0 unless they plainly describe an embedded run in threads mode of a job file that exists.
 */
export function earlyWorkerCount(args: readonly string[]): number {
  // -p wins over -D parallelism.default, and a later word over an earlier one, as in run-job.ts.
  let p: string | undefined;
  let d: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (!word.startsWith('-') || word === '-') return existsSync(resolve(word)) ? expectedSlots({ 'parallelism.default': p ?? d }) : 0;
    if (NEUTRAL_SWITCHES.has(word)) continue;
    const eq = word.indexOf('=');
    let name = eq > 0 && word.startsWith('--') ? word.slice(0, eq) : word;
    let value: string | undefined = eq > 0 && word.startsWith('--') ? word.slice(eq + 1) : undefined;
    if (value === undefined && /^-[pD]./.test(word)) {
      name = word.slice(0, 2);
      value = word.slice(2);
    }
    if (!VALUE_OPTIONS.has(name)) return 0;
    if (value === undefined) value = args[++i];
    if (value === undefined) return 0;
    if (name === '-p' || name === '--parallelism') p = value;
    else if (name === '-D') {
      const at = value.indexOf('=');
      const [key, v] = [value.slice(0, at), value.slice(at + 1)];
      if (key === 'weir.execution.mode' && v === 'inline') return 0;
      if (key === 'parallelism.default') d = v;
    }
  }
  return 0;
}

/** Starts the workers `earlyWorkerCount(args)` names. */
export function startWorkersEarly(args: readonly string[]): void {
  const count = earlyWorkerCount(args);
  if (count > 0) startEarlyWorkers(count);
}
