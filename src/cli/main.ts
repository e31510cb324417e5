/**
 * The `weir` command line, with Flink's verbs. Exit codes: 0 success, 1 failure (a failed job,
 * an unknown job, no cluster…), 2 usage errors. Every verb answers --help.
 *
 * A plain `weir run` (plain-run.ts) runs without loading the command-line parser and the other
 * verbs (program.ts): what a user waits for between the command and the job's start.
 */
import { reportFailure, UsageError, type MainOptions } from './cli-support.ts';
import { plainRunOptions } from './plain-run.ts';
import { runCommand } from './run-job.ts';

export type { MainOptions } from './cli-support.ts';

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  try {
    const plain = argv[0] === 'run' ? plainRunOptions(argv.slice(1), options.typeScriptLoaded ?? false) : undefined;
    if (plain !== undefined) return await runCommand(plain);
    const { runProgram } = await import('./program.ts');
    return await runProgram(argv, options);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`weir: ${e.message}\n\n${e.usage}`);
      return 2;
    }
    reportFailure(e);
    return 1;
  }
}
