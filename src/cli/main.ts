/**
 * The `weir` command line, with Flink's verbs. Exit codes: 0 success, 1 failure (a failed job,
 * an unknown job, no cluster…), 2 usage errors. Every verb answers --help.
 */
import { readFileSync } from 'node:fs';
import '../runtime/install-embedded-executor.ts';
import { reportFailure, UsageError, type ExitCode } from './cli-support.ts';
import { START_USAGE, startClusterCommand, STOP_USAGE, stopClusterCommand } from './cluster-commands.ts';
import {
  cancelCommand,
  CANCEL_USAGE,
  checkpointCommand,
  CHECKPOINT_USAGE,
  listCommand,
  LIST_USAGE,
  savepointCommand,
  SAVEPOINT_USAGE,
  stopCommand,
  STOP_JOB_USAGE,
} from './job-commands.ts';
import { runCommand, RUN_USAGE } from './run-command.ts';

const USAGE = `Usage: weir <command> [options]

Commands:
  run [options] <job.ts> [args...]      Run a job (on a cluster if one runs, else embedded)
  list                                  List the cluster's jobs
  cancel <jobId>                        Cancel a job
  savepoint <jobId> [targetDirectory]   Take a savepoint of a running job
  savepoint -d <savepointPath>          Dispose of a savepoint
  stop [--savepointPath dir] [--drain] <jobId>
                                        Stop a job with a savepoint
  checkpoint <jobId> [--full]           Take a checkpoint of a running job now
  start-cluster [--slots n]             Start a local cluster in the background
  stop-cluster                          Stop the local cluster

  weir <command> --help                 Options of a command
  weir --version                        Print the version

Options for run:
${RUN_USAGE.split('\n').slice(RUN_USAGE.split('\n').indexOf('Options:') + 1).join('\n')}`;

const COMMANDS: Record<string, { run: (argv: readonly string[]) => Promise<ExitCode>; usage: string }> = {
  run: { run: runCommand, usage: RUN_USAGE },
  list: { run: listCommand, usage: LIST_USAGE },
  cancel: { run: cancelCommand, usage: CANCEL_USAGE },
  savepoint: { run: savepointCommand, usage: SAVEPOINT_USAGE },
  stop: { run: stopCommand, usage: STOP_JOB_USAGE },
  checkpoint: { run: checkpointCommand, usage: CHECKPOINT_USAGE },
  'start-cluster': { run: startClusterCommand, usage: START_USAGE },
  'stop-cluster': { run: stopClusterCommand, usage: STOP_USAGE },
};

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
    }
    const c = COMMANDS[command];
    if (!c) throw new UsageError(`unknown command "${command}"`, USAGE);
    return await c.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`weir: ${e.message}\n\n${e.usage}`);
      return 2;
    }
    reportFailure(e);
    return 1;
  }
}
