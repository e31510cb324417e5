/**
 * Error types every layer may throw or recognise, and the exhaustiveness guard for closed unions.
 */

/** A checkpoint or savepoint file is missing, truncated, or does not match what was recorded. */
export class CorruptCheckpointError extends Error {
  /** Absolute path of the offending file. */
  readonly file: string;
  /** What is wrong with it. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(
      `Corrupt checkpoint data in ${file}: ${problem}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'CorruptCheckpointError';
    this.file = file;
    this.problem = problem;
  }
}

/** How an error message shows a value a user gave: as JSON where it has a JSON form. */
export function shown(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/**
 * Marks a branch that a closed union makes unreachable: a new member that is not handled fails
 * to compile at the call, and a value that slips past the types at run time fails loudly here.
 */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
