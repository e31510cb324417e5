/**
 * The `run` verb's command line (commander): options before the job file, the job's own
 * arguments after it. What the verb then does is run-job.ts.
 */
import type { Command } from 'commander';
import { isConfigKey } from '../api/configuration.ts';
import { UsageError, type ExitCode } from './cli-support.ts';
import { RUN_USAGE, runCommand, savepointPath, type RunOptions } from './run-job.ts';
import { positiveInt, switchFlag, valueFlag, verbCommand } from './verb-command.ts';

export { RUN_USAGE } from './run-job.ts';

/**
 * The `run` verb. Options come before the job file; everything after it is the job's own
 * arguments, options included (`weir run job.ts --events 10`). `run` does what the options say
 * (runCommand; a test may pass another to see the options the verb read).
 */
export function runVerb(typeScriptLoaded = false, run: (o: RunOptions) => Promise<ExitCode> = runCommand): Command {
  const o: RunOptions = { typeScriptLoaded, parallelism: undefined, inline: false, detached: false, jobManager: undefined, webUi: false, webPort: 8081, config: {}, job: '', args: [] };
  const cmd = verbCommand('run', RUN_USAGE, (operands) => {
    const [job, ...args] = operands;
    if (!job) throw new UsageError('run needs a job file', RUN_USAGE);
    if (o.inline && (o.detached || o.jobManager !== undefined)) throw new UsageError('--inline runs in this process; it cannot be combined with -d or -m', RUN_USAGE);
    if (o.webUi && (o.inline || o.detached || o.jobManager !== undefined)) {
      throw new UsageError('--web-ui runs the job in this process on threads; it cannot be combined with --inline, -d or -m (a cluster serves its own web UI)', RUN_USAGE);
    }
    o.job = job;
    o.args = args;
    return run(o);
  });
  valueFlag(cmd, ['-p', '--parallelism'], 'a value', (v, flag) => (o.parallelism = positiveInt(v, flag, RUN_USAGE)));
  switchFlag(cmd, ['--inline'], () => (o.inline = true));
  switchFlag(cmd, ['-d', '--detached'], () => (o.detached = true));
  switchFlag(cmd, ['--web-ui'], () => (o.webUi = true));
  valueFlag(cmd, ['--web-port'], 'a port number', (v, flag) => {
    const port = Number(v);
    if (!/^\d+$/.test(v.trim()) || port > 65535) throw new UsageError(`${flag} needs a port number from 0 to 65535, got "${v}"`, RUN_USAGE);
    o.webPort = port;
    o.webUi = true;
  });
  valueFlag(cmd, ['-m', '--jobmanager'], 'a value', (v) => (o.jobManager = v));
  valueFlag(cmd, ['-D'], 'a value', (kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`-D needs key=value, got "${kv}"`, RUN_USAGE);
    const key = kv.slice(0, eq);
    if (!isConfigKey(key)) throw new UsageError(`-D: unknown configuration key "${key}"`, RUN_USAGE);
    o.config[key] = kv.slice(eq + 1);
  });
  valueFlag(cmd, ['-s', '--fromSavepoint'], 'a savepoint path (a directory, its _metadata file, or a file:// URI)', (v) => {
    o.config['execution.savepoint.path'] = savepointPath(v);
  });
  switchFlag(cmd, ['-n', '--allowNonRestoredState'], () => (o.config['execution.savepoint.ignore-unclaimed-state'] = 'true'));
  return cmd;
}

