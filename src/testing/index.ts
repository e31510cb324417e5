/**
 * Harnesses for testing jobs: run a job module in this process, in either execution mode, and
 * get its result and the records it collected — the same path `weir run` takes.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { executionRegistry, setLaunchContext } from '../api/execution-context.ts';
import type { JobClient } from '../api/job-client.ts';
import type { LocalJobResult } from '../runtime/embedded-executor.ts';
import '../runtime/install-embedded-executor.ts';

export { ManualScheduler, systemScheduler, type Clock, type Scheduler } from '../core/time.ts';
export { type CheckpointFaultPoint, type FaultHooks } from '../runtime/fault-injection.ts';
export { JobProcess, type JobProcessExit, type JobProcessOptions } from './job-process.ts';
export { FailAfterRecords, faultsAt, InjectedFailure, type FailAfterRecordsOptions, type FaultPlan, type FaultPoint } from './faults.ts';
import { setFaultHooks, type FaultHooks } from '../runtime/fault-injection.ts';
import { localJobOf } from '../runtime/local-job.ts';

/**
 * Installs failure-injection hooks on the checkpointing path of this thread. Call it from the job
 * module: every worker re-imports the module, so every thread gets them. Hooks see the attempt
 * number, so a fault can fire in one attempt only.
 */
export function injectFaults(hooks: FaultHooks | undefined): void {
  setFaultHooks(hooks);
}

/** Kills the worker thread of one slot of a running job (threads mode), as a crash would. */
export async function killSlot(client: JobClient, slot: number): Promise<void> {
  const job = localJobOf(client);
  if (!job) throw new Error('killSlot: not a job of the embedded executor');
  await job.killSlot(slot);
}

export interface RunJobOptions {
  /** Job arguments: what the job sees as process.argv.slice(2), in every worker too. */
  readonly args?: readonly string[];
  /** Imposed as `parallelism.default`, like `weir run -p`. */
  readonly parallelism?: number;
  readonly mode?: 'threads' | 'inline';
  /** Further options by configuration key. */
  readonly config?: Record<string, unknown>;
}

export interface RunJobOutcome {
  readonly result: LocalJobResult;
  /** Records of the job's executeAndCollect() streams, in arrival order, by collect id order. */
  readonly collected: unknown[];
  readonly jobId: string;
}

let runCounter = 0;

/**
 * Imports a job module as `weir run` would and returns the client of the first job it
 * executes, as soon as that job runs. A job module that awaits `env.execute()` on an unbounded
 * pipeline is fine: the import is not awaited past job submission. A fresh copy of the module is
 * evaluated on each call, so the same job file can run many times in one test.
 */
export async function startJob(modulePath: string, options: RunJobOptions = {}): Promise<JobClient> {
  const registry = executionRegistry();
  const url = `${pathToFileURL(resolve(modulePath)).href}?run=${++runCounter}`;
  const overrides: Record<string, unknown> = { ...options.config };
  if (options.parallelism !== undefined) overrides['parallelism.default'] = options.parallelism;
  if (options.mode !== undefined) overrides['weir.execution.mode'] = options.mode;
  const args = [...(options.args ?? [])];
  const inner = registry.executor!;
  let submitted!: (c: JobClient) => void;
  let failed!: (e: unknown) => void;
  const client = new Promise<JobClient>((res, rej) => {
    submitted = res;
    failed = rej;
  });
  const restoreLaunch = setLaunchContext({ jobModule: url, jobPath: resolve(modulePath), args, overrides });
  registry.executeCalls = 0;
  registry.executor = {
    async execute(pipeline) {
      registry.executor = inner;
      try {
        const c = await inner.execute(pipeline);
        submitted(c);
        return c;
      } catch (e) {
        failed(e);
        throw e;
      }
    },
  };
  const restore = (): void => {
    registry.executor = inner;
    restoreLaunch();
  };
  import(url).then(
    () => failed(new Error(`${modulePath} did not call env.execute()`)),
    (e: unknown) => failed(e),
  );
  try {
    return await client;
  } finally {
    restore();
  }
}

/** Runs a job module to its end (see startJob) and returns its result and collected records. */
export async function runJob(modulePath: string, options: RunJobOptions = {}): Promise<RunJobOutcome> {
  const client = await startJob(modulePath, options);
  const result = (await client.getJobExecutionResult()) as LocalJobResult;
  const collected = [...result.collected.values()].flat();
  return { result, collected, jobId: client.getJobID() };
}

/** Runs `fn` while capturing what is written to process.stdout. */
export async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  const original = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    const value = await fn();
    return { value, stdout: out };
  } finally {
    process.stdout.write = original;
  }
}
