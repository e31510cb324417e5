/**
 * A `weir` verb as a commander Command, with the conventions every verb keeps:
 *
 * - Options come before the operands; the first operand ends them (commander's
 *   passThroughOptions), so `weir run job.ts --flag` hands `--flag` to the job, and `--` ends
 *   options explicitly.
 * - `-h`/`--help` prints the verb's usage text (written by hand, as the tests and the docs quote
 *   it) on stdout; commander's own help and messages are off.
 * - Bad input is a UsageError (exit code 2) in weir's words: `unknown option -x`,
 *   `-p needs a positive integer, got zero`, `-s needs a savepoint path …, got nothing`. Every
 *   flag is its own commander option (`-p` and `--parallelism` apart), so a message names the
 *   flag as it was typed, and options apply in the order given (the last one wins).
 */
import { Command, type CommanderError, Option } from 'commander';
import { UsageError, type ExitCode } from './cli-support.ts';

/** What runs a verb: its operands (positional arguments) in, an exit code out. */
export type VerbHandler = (operands: string[]) => Promise<ExitCode>;

const usageOf = new WeakMap<Command, string>();
/** Per command: what each value-taking flag needs, for the message when its value is missing. */
const needsOf = new WeakMap<Command, Map<string, string>>();
const exitCodeOf = new WeakMap<Command, ExitCode>();

/** Turns commander's errors into weir's UsageErrors; anything else passes through. */
export function usageErrorFor(cmd: Command, e: CommanderError): UsageError | CommanderError {
  const usage = usageOf.get(cmd) ?? '';
  const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'commander.unknownOption':
      return new UsageError(`unknown option ${quoted}`, usage);
    case 'commander.optionMissingArgument': {
      const flag = quoted.split(' ')[0]!;
      return new UsageError(`${flag} needs ${needsOf.get(cmd)?.get(flag) ?? 'a value'}, got nothing`, usage);
    }
    case 'commander.unknownCommand':
      return new UsageError(`unknown command "${quoted}"`, usage);
    default:
      return e;
  }
}

/**
 * A verb named `name` whose `--help` prints `usage`; `run` gets the operands once the options
 * are read (the options' own handlers have run by then).
 */
export function verbCommand(name: string, usage: string, run: VerbHandler): Command {
  const cmd = new Command(name);
  usageOf.set(cmd, usage);
  needsOf.set(cmd, new Map());
  return cmd
    .helpOption(false)
    .addOption(new Option('-h, --help'))
    .argument('[operands...]')
    .passThroughOptions()
    .showSuggestionAfterError(false)
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .exitOverride((e) => {
      throw usageErrorFor(cmd, e);
    })
    .action(async (operands: string[]) => {
      if (cmd.opts()['help']) {
        console.log(usage);
        exitCodeOf.set(cmd, 0);
        return;
      }
      exitCodeOf.set(cmd, await run(operands));
    });
}

/** The exit code of the verb's last run; undefined if it did not run. */
export function exitCode(cmd: Command): ExitCode | undefined {
  return exitCodeOf.get(cmd);
}

/** The usage text of a verb. */
export function usage(cmd: Command): string {
  return usageOf.get(cmd) ?? '';
}

/**
 * Flags that take a value: each of `flags` (e.g. '-p', '--parallelism') passes its value to
 * `take` when given. A value that is empty or looks like an option is refused as
 * `<flag> needs <needs>, got "<value>"`; `take` may refuse more by throwing a UsageError.
 */
export function valueFlag(cmd: Command, flags: readonly string[], needs: string, take: (value: string, flag: string) => void): Command {
  for (const flag of flags) {
    needsOf.get(cmd)?.set(flag, needs);
    cmd.addOption(
      new Option(`${flag} <value>`).argParser((value: string) => {
        if (value === '' || (value.startsWith('-') && value.length > 1)) throw new UsageError(`${flag} needs ${needs}, got ${JSON.stringify(value)}`, usage(cmd));
        take(value, flag);
        return value;
      }),
    );
  }
  return cmd;
}

/** Flags without a value: each of `flags` calls `set` when given. */
export function switchFlag(cmd: Command, flags: readonly string[], set: () => void): Command {
  for (const flag of flags) {
    const option = new Option(flag);
    cmd.addOption(option);
    cmd.on(`option:${option.name()}`, set);
  }
  return cmd;
}

/** A value that must be a positive integer, as `<flag> needs a positive integer, got <value>`. */
export function positiveInt(value: string, flag: string, cmdUsage: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got ${value}`, cmdUsage);
  return n;
}
