/** What every `weir` verb shares: usage errors, failure reports, progress while waiting. */
import { JobExecutionError } from '../api/job-client.ts';

/** Bad command-line input: reported with the verb's usage, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** How bin/weir.mjs runs the command line (main.ts). */
export interface MainOptions {
  /**
   * A TypeScript loader (tsx) is registered for the whole process already, as where weir runs
   * from its sources; otherwise `weir run` registers what the job needs itself (job-loader.ts).
   */
  readonly typeScriptLoaded?: boolean;
}

/** A verb's outcome: 0 success, 1 failure, 2 usage error. */
export type ExitCode = 0 | 1 | 2;

/** Prints an error as one line (`weir: …`) plus its cause, the user's stack where there is one. */
export function reportFailure(e: unknown): void {
  if (e instanceof JobExecutionError) {
    console.error(`weir: ${e.message}`);
    let cause: unknown = e.cause;
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
    if (cause instanceof Error && cause.stack) console.error(`Caused by: ${cause.stack}`);
  } else if (e instanceof Error) {
    console.error(`weir: ${e.name === 'Error' ? '' : e.name + ': '}${e.message}`);
    if (e.cause instanceof Error) console.error(`Caused by: ${e.cause.message}`);
    else if (process.env['WEIR_DEBUG'] && e.stack) console.error(e.stack.split('\n').slice(1).join('\n'));
  } else {
    console.error(`weir: ${String(e)}`);
  }
}

/**
 * Awaits a long operation, telling the user every few seconds that it is still going (on
 * stderr, so stdout keeps only results that scripts read).
 */
export async function withProgress<T>(what: string, p: Promise<T>, everyMs = 3000): Promise<T> {
  const start = Date.now();
  const timer = setInterval(() => process.stderr.write(`  … ${what} (${Math.round((Date.now() - start) / 1000)} s)\n`), everyMs);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}
