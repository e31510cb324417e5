/**
 * Harnesses for testing jobs: run a job module in this process, in either execution mode, and
 * get its result and the records it collected — the same path `weir run` takes.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { executionRegistry } from '../api/execution-context.ts';
import type { JobClient } from '../api/job-client.ts';
import type { LocalJobResult } from '../runtime/embedded-executor.ts';
import '../index.ts';

export { ManualScheduler, systemScheduler, type Clock, type Scheduler } from '../runtime/time.ts';

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
 * Imports a job module as `weir run` would and waits for the job it executes. A fresh copy of
 * the module is evaluated on each call, so the same job file can run many times in one test.
 */
export async function runJob(modulePath: string, options: RunJobOptions = {}): Promise<RunJobOutcome> {
  const registry = executionRegistry();
  const url = `${pathToFileURL(resolve(modulePath)).href}?run=${++runCounter}`;
  const saved = { ...registry, overrides: registry.overrides, argv: process.argv };
  const overrides: Record<string, unknown> = { ...options.config };
  if (options.parallelism !== undefined) overrides['parallelism.default'] = options.parallelism;
  if (options.mode !== undefined) overrides['weir.execution.mode'] = options.mode;
  const args = [...(options.args ?? [])];
  const inner = registry.executor!;
  const clients: JobClient[] = [];
  registry.overrides = overrides;
  registry.jobModule = url;
  registry.jobArgs = args;
  registry.executeCalls = 0;
  registry.executor = {
    async execute(pipeline) {
      const client = await inner.execute(pipeline);
      clients.push(client);
      return client;
    },
  };
  process.argv = [process.argv[0]!, resolve(modulePath), ...args];
  try {
    await import(url);
  } finally {
    registry.executor = inner;
    registry.overrides = saved.overrides;
    registry.jobModule = saved.jobModule;
    registry.jobArgs = saved.jobArgs;
    process.argv = saved.argv;
  }
  const client = clients[0];
  if (!client) throw new Error(`${modulePath} did not call env.execute()`);
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
