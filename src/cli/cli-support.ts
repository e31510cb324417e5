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

/** A minimal option reader: flags before the positional arguments, `--` ends options. */
export class Args {
  #i = 0;
  constructor(
    readonly argv: readonly string[],
    readonly usage: string,
  ) {}
  /** The next option (starting with `-`), or undefined when positional arguments begin. */
  nextOption(): string | undefined {
    const a = this.argv[this.#i];
    if (a === undefined || !a.startsWith('-') || a === '-') return undefined;
    this.#i++;
    if (a === '--') return undefined;
    return a;
  }
  /** The value of option `name`; `what` says what it must be. */
  value(name: string, what = 'a value'): string {
    const v = this.argv[this.#i++];
    if (v === undefined || v === '' || (v.startsWith('-') && v.length > 1)) throw new UsageError(`${name} needs ${what}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`, this.usage);
    return v;
  }
  positiveInt(name: string): number {
    const v = this.value(name);
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} needs a positive integer, got ${v}`, this.usage);
    return n;
  }
  rest(): string[] {
    return this.argv.slice(this.#i);
  }
  unknown(option: string): never {
    throw new UsageError(`unknown option ${option}`, this.usage);
  }
}
