/**
 * The `weir` command line. `weir run job.ts [args...]` imports the job module on the embedded
 * default (a local job manager in this process, one worker thread per slot) and exits with the
 * job's outcome: 0 when it finished, 1 when it failed, 2 for usage errors.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { executionRegistry, setLaunchContext } from '../api/execution-context.ts';
import { isConfigKey } from '../api/configuration.ts';
import { JobExecutionError } from '../api/job-client.ts';
import '../index.ts';

const USAGE = `Usage: weir <command> [options]

Commands:
  run [options] <job.ts|job.js> [args...]   Run a job file on the embedded default

Options for run:
  -p, --parallelism <n>     Default parallelism of the job (code that sets one wins)
  --inline                  Run every subtask on one thread (deterministic; for debugging)
  -D <key>=<value>          Set a configuration option, e.g. -D pipeline.auto-watermark-interval=100
  -s, --fromSavepoint <path>
                            Start the job from a savepoint or retained checkpoint (a directory,
                            its _metadata file, or a file:// URI; relative paths resolve against
                            the current directory). Sets execution.savepoint.path
  -n, --allowNonRestoredState
                            Skip snapshot state that maps to no operator of the job instead of
                            failing. Sets execution.savepoint.ignore-unclaimed-state=true
  -h, --help                Show this help

  weir --version            Print the version`;

class UsageError extends Error {}

interface RunOptions {
  parallelism: number | undefined;
  inline: boolean;
  config: Record<string, string>;
  job: string;
  args: string[];
}

function parseRun(argv: string[]): RunOptions | 'help' {
  const o: RunOptions = { parallelism: undefined, inline: false, config: {}, job: '', args: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '-p' || a === '--parallelism') {
      const v = argv[++i];
      const n = Number(v);
      if (v === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`${a} needs a positive integer, got ${v ?? 'nothing'}`);
      o.parallelism = n;
    } else if (a === '--inline') {
      o.inline = true;
    } else if (a === '-D') {
      const kv = argv[++i] ?? '';
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UsageError(`-D needs key=value, got "${kv}"`);
      const key = kv.slice(0, eq);
      if (!isConfigKey(key)) throw new UsageError(`-D: unknown configuration key "${key}"`);
      o.config[key] = kv.slice(eq + 1);
    } else if (a === '-s' || a === '--fromSavepoint') {
      const v = argv[++i];
      if (v === undefined || v === '' || v.startsWith('-')) {
        throw new UsageError(`${a} needs a savepoint path (a directory, its _metadata file, or a file:// URI), got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
      }
      o.config['execution.savepoint.path'] = savepointPath(v);
    } else if (a === '-n' || a === '--allowNonRestoredState') {
      o.config['execution.savepoint.ignore-unclaimed-state'] = 'true';
    } else if (a.startsWith('-')) {
      throw new UsageError(`unknown option ${a}`);
    } else break;
  }
  const job = argv[i];
  if (!job) throw new UsageError('run needs a job file');
  o.job = job;
  o.args = argv.slice(i + 1);
  return o;
}

/**
 * A path as absolute, so that the job sees the same snapshot whatever its working directory;
 * URIs (file://…) pass through as given. Whether a snapshot is there is the runtime's to check.
 */
function savepointPath(value: string): string {
  const hasScheme = /^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(value); // one letter is a Windows drive, not a scheme
  return hasScheme ? value : resolve(value);
}

async function run(o: RunOptions): Promise<number> {
  const path = resolve(o.job);
  if (!existsSync(path)) throw new UsageError(`job file not found: ${path}`);
  const registry = executionRegistry();
  const overrides: Record<string, unknown> = { ...o.config };
  if (o.parallelism !== undefined) overrides['parallelism.default'] = o.parallelism;
  if (o.inline) overrides['weir.execution.mode'] = 'inline';
  const jobModule = pathToFileURL(path).href;
  setLaunchContext({ jobModule, jobPath: path, args: o.args, overrides });
  try {
    await import(jobModule);
  } catch (e) {
    reportFailure(e);
    return 1;
  }
  if (registry.executeCalls === 0) {
    console.error(`weir: ${o.job} did not call env.execute(): a job module builds its pipeline and then awaits env.execute(name)`);
    return 1;
  }
  return 0;
}

function reportFailure(e: unknown): void {
  if (e instanceof JobExecutionError) {
    console.error(`weir: ${e.message}`);
    let cause: unknown = e.cause;
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
    if (cause instanceof Error && cause.stack) console.error(`Caused by: ${cause.stack}`);
  } else if (e instanceof Error) {
    console.error(`weir: ${e.name === 'Error' ? '' : e.name + ': '}${e.message}`);
    if (e.stack) console.error(e.stack.split('\n').slice(1).join('\n'));
  } else {
    console.error(`weir: ${String(e)}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      case '--version':
      case '-v': {
        const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
        console.log(`weir ${pkg.version}`);
        return 0;
      }
      case 'run': {
        const o = parseRun(rest);
        if (o === 'help') {
          console.log(USAGE);
          return 0;
        }
        return await run(o);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`weir: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    reportFailure(e);
    return 1;
  }
}
