/**
 * The `weir` program as commander reads it: one subcommand per verb (each verb's file builds its
 * own), the program's own `--help`, `--version` and usage. main.ts loads it for every command
 * line but a plain `weir run` (plain-run.ts).
 */
import { Command, type CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError, type ExitCode, type MainOptions } from './cli-support.ts';
import { startClusterVerb, stopClusterVerb } from './cluster-commands.ts';
import { cancelVerb, checkpointVerb, listVerb, savepointVerb, stopVerb } from './job-commands.ts';
import { RUN_USAGE, runVerb } from './run-command.ts';
import { exitCode, usageErrorFor } from './verb-command.ts';

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

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * The `weir` program: one commander subcommand per verb (each verb's file builds its own), and
 * the program's own `--help`, `--version` and usage. Options of the program come before the
 * verb; everything after the verb is the verb's.
 */
function program(result: { code: ExitCode }, options: MainOptions): { program: Command; verbs: Command[] } {
  const verbs = [runVerb(options.typeScriptLoaded ?? false), listVerb(), cancelVerb(), savepointVerb(), stopVerb(), checkpointVerb(), startClusterVerb(), stopClusterVerb()];
  const weir: Command = new Command('weir')
    .helpOption(false)
    .helpCommand(false)
    .enablePositionalOptions()
    .addOption(new Option('-h, --help'))
    .addOption(new Option('-v, --version'))
    .argument('[command]')
    .allowExcessArguments()
    .showSuggestionAfterError(false)
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .exitOverride((e: CommanderError) => {
      // The first argument names the verb: an option there is an unknown verb too.
      if (e.code === 'commander.unknownOption') throw new UsageError(`unknown command "${/'([^']*)'/.exec(e.message)?.[1] ?? ''}"`, USAGE);
      throw usageErrorFor(weir, e);
    })
    .action((command: string | undefined, o: { help?: boolean; version?: boolean }) => {
      if (o.version) {
        console.log(`weir ${version()}`);
        result.code = 0;
      } else if (o.help || command === 'help') {
        console.log(USAGE);
        result.code = 0;
      } else if (command === undefined) {
        console.log(USAGE);
        result.code = 2;
      } else {
        throw new UsageError(`unknown command "${command}"`, USAGE);
      }
    });
  for (const verb of verbs) weir.addCommand(verb);
  return { program: weir, verbs };
}

/** Runs the command line `argv` (the words after `weir`); the verb's exit code. */
export async function runProgram(argv: string[], options: MainOptions): Promise<ExitCode> {
  const result: { code: ExitCode } = { code: 0 };
  const { program: weir, verbs } = program(result, options);
  await weir.parseAsync(argv, { from: 'user' });
  for (const verb of verbs) {
    const code = exitCode(verb);
    if (code !== undefined) return code;
  }
  return result.code;
}
