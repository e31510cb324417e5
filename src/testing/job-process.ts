/**
 * Runs a job module in a separate `weir run` process, so a test can do what no in-process
 * harness can: kill the whole process with SIGKILL at a chosen moment (no shutdown hook runs,
 * nothing is flushed or cleaned up) and resume the job from its newest retained checkpoint with
 * `weir run -s <checkpoint base directory>`, then check what the external system holds.
 *
 * The process is the real CLI (this package's `bin/weir.mjs`), with the job's arguments after
 * the module path and configuration as `-D key=value` options.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface JobProcessOptions {
  /** Arguments after the job module (what the job sees as process.argv.slice(2)). */
  readonly args?: readonly string[];
  /** `-p`: the job's default parallelism. */
  readonly parallelism?: number;
  /** `--inline`: every subtask on the process's main thread. */
  readonly inline?: boolean;
  /** `-D key=value` options. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  /** `-s`: a savepoint, a retained checkpoint, a job's checkpoint directory, or a checkpoint base directory with one job. */
  readonly fromSavepoint?: string;
  /** Environment of the process (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

/** How a job process ended, with everything it wrote. */
export interface JobProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const BIN = fileURLToPath(new URL('../../bin/weir.mjs', import.meta.url));

export class JobProcess {
  readonly #child: ChildProcess;
  #stdout = '';
  #stderr = '';
  #exit: JobProcessExit | undefined;
  /** Settles when the process has exited, however it ended (it never rejects). */
  readonly exited: Promise<JobProcessExit>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.#stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.#stderr += s));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.#exit = { code, signal, stdout: this.#stdout, stderr: this.#stderr };
        resolve(this.#exit);
      });
      child.on('error', (e) => {
        this.#stderr += `\n${e.message}`;
      });
    });
  }

  /** Starts `weir run <jobPath> …` in a new process. */
  static start(jobPath: string, options: JobProcessOptions = {}): JobProcess {
    const argv = [BIN, 'run'];
    if (options.parallelism !== undefined) argv.push('-p', String(options.parallelism));
    if (options.inline === true) argv.push('--inline');
    if (options.fromSavepoint !== undefined) argv.push('-s', options.fromSavepoint);
    for (const [key, value] of Object.entries(options.config ?? {})) argv.push('-D', `${key}=${String(value)}`);
    argv.push(jobPath, ...(options.args ?? []));
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    return new JobProcess(child);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }
  get stdout(): string {
    return this.#stdout;
  }
  get stderr(): string {
    return this.#stderr;
  }
  /** Undefined while the process runs. */
  get exit(): JobProcessExit | undefined {
    return this.#exit;
  }

  /**
   * Resolves once `condition` holds (checked every `pollMs`); rejects when the process exits
   * first (with its output) or after `timeoutMs`.
   */
  async waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, pollMs = 25): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await condition()) return;
      const exit = this.#exit;
      if (exit !== undefined) {
        throw new Error(`the job process exited (code ${exit.code}, signal ${exit.signal}) before ${what}\n--- stderr:\n${exit.stderr}\n--- stdout:\n${tail(exit.stdout)}`);
      }
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms\n--- stderr so far:\n${this.#stderr}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Sends `signal` (default SIGKILL: the process dies at once, as in a crash) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<JobProcessExit> {
    if (this.#exit === undefined) this.#child.kill(signal);
    return this.exited;
  }

  /** Waits for the process to exit by itself; rejects unless it exits with code 0 within `timeoutMs`. */
  async succeeded(timeoutMs = 60_000): Promise<JobProcessExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the job process did not end within ${timeoutMs} ms\n--- stderr so far:\n${this.#stderr}`)), timeoutMs);
    });
    try {
      const exit = await Promise.race([this.exited, timeout]);
      if (exit.code !== 0) throw new Error(`the job process failed (code ${exit.code}, signal ${exit.signal})\n--- stderr:\n${exit.stderr}`);
      return exit;
    } finally {
      clearTimeout(timer);
      if (this.#exit === undefined) this.#child.kill('SIGKILL');
    }
  }
}

function tail(s: string): string {
  return s.length > 4000 ? `…${s.slice(-4000)}` : s;
}
