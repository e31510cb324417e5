/**
 * What the keyed-state job (checkpoint-state.ts) and the benchmarks that drive it
 * (checkpoint-pause.ts, recovery.ts) share: its arguments, the shape and size of its state, the
 * messages it sends and the commands it takes.
 *
 * The job runs in a worker thread (threads mode), so its figures travel on a BroadcastChannel
 * named after the run (reports: job → benchmark) and commands on a second one (benchmark → job).
 * Times are absolute, `performance.timeOrigin + performance.now()`, so that times taken on
 * different threads compare (each thread's performance.now() has its own origin).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { channelName } from './common.ts';

/** Milliseconds since the epoch, with performance.now()'s resolution, comparable across threads. */
export function absNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Numbers per key in the `samples` array of a state value. */
export const SAMPLES_PER_KEY = 100;

/** One key's state: about 1 KB once serialised (100 float64 samples dominate). */
export interface Payload {
  id: number;
  count: number;
  name: string;
  samples: number[];
}

export function makePayload(key: number): Payload {
  const samples = new Array<number>(SAMPLES_PER_KEY);
  for (let i = 0; i < SAMPLES_PER_KEY; i++) samples[i] = key + Math.random();
  return { id: key, count: 0, name: `key-${String(key).padStart(9, '0')}-payload`, samples };
}

/**
 * Serialised bytes per key in a checkpoint (the `state_size` the stats report over the keys),
 * measured: 98,039 keys wrote 91.7 MB, 9,804 keys 9.2 MB.
 */
export const STATE_BYTES_PER_KEY = 935;

/** A state size the benchmarks build, with the number of keys that gives it. */
export interface StateSize {
  readonly label: string;
  readonly bytes: number;
  readonly keys: number;
}

export function stateSize(label: string, bytes: number): StateSize {
  return { label, bytes, keys: Math.round(bytes / STATE_BYTES_PER_KEY) };
}

export const STATE_10MB = stateSize('10 MB', 10e6);
export const STATE_100MB = stateSize('100 MB', 100e6);
export const STATE_1GB = stateSize('1 GB', 1e9);

/** The job's arguments (process.argv.slice(2), the same in every worker). */
export interface StateJobArgs {
  readonly runId: string;
  /** Distinct keys; the first `keys` records build one state value each. */
  readonly keys: number;
  /** state.checkpoints.dir. */
  readonly dir: string;
  /** Records per second once the state is built. */
  readonly rate: number;
  /** Restarts allowed (fixed delay 0); 0: no restart strategy, a failure fails the job. */
  readonly restarts: number;
}

export function stateJobArgv(a: StateJobArgs): string[] {
  return [a.runId, String(a.keys), a.dir, String(a.rate), String(a.restarts)];
}

export function parseStateJobArgs(argv: readonly string[]): StateJobArgs {
  const [runId = 'standalone', keys = '10000', dir = '/tmp/weir-bench-checkpoints', rate = '100000', restarts = '0'] = argv;
  const a = { runId, keys: Number(keys), dir, rate: Number(rate), restarts: Number(restarts) };
  for (const k of ['keys', 'rate'] as const) {
    if (!Number.isSafeInteger(a[k]) || a[k] < 1) throw new RangeError(`${k} must be a positive integer, got ${String(a[k])}`);
  }
  if (!Number.isSafeInteger(a.restarts) || a.restarts < 0) throw new RangeError(`restarts must be an integer >= 0, got ${restarts}`);
  return a;
}

/** Gaps between two consecutive records shorter than this are not recorded (ms). */
export const GAP_THRESHOLD_MS = 0.25;

/** Messages of the job. */
export type StateJobReport =
  /** The job module was evaluated in a worker thread (not in the launching thread). */
  | { readonly type: 'module'; readonly at: number; readonly threadId: number }
  /** The keyed function was opened (its state restored, if any). */
  | { readonly type: 'open'; readonly at: number; readonly attempt: number; readonly threadId: number }
  /** The first record of an attempt; `restored`: the record's key already had state. */
  | { readonly type: 'first'; readonly at: number; readonly attempt: number; readonly restored: boolean }
  /** Every key has its state (the record of the last key was processed). */
  | { readonly type: 'built'; readonly at: number; readonly attempt: number }
  /** The keyed function is about to throw the failure it was told to inject. */
  | { readonly type: 'failing'; readonly at: number; readonly attempt: number }
  /** Answer to a 'report' command: what the keyed function measured so far in this attempt. */
  | { readonly type: 'gaps'; readonly attempt: number; readonly records: number; readonly firstAt: number; readonly lastAt: number;
      /** Pairs [start, length] of every gap of at least GAP_THRESHOLD_MS between two records. */
      readonly gaps: number[];
      /** When the keyed function's snapshotState ran (the synchronous part of its task) and when it heard of completion. */
      readonly marks: { readonly checkpointId: number; readonly snapshotAt: number; readonly completeAt: number | undefined }[];
      /** Garbage collections of the worker: triples [start, duration, kind], kind as perf_hooks' constants.NODE_PERFORMANCE_GC_* (1 minor, 4 major, 8 incremental, 16 weak callbacks). */
      readonly gc: number[] };

export type StateJobCommand = { readonly type: 'report' } | { readonly type: 'fail' };

export function reportChannel(runId: string): BroadcastChannel {
  return new BroadcastChannel(channelName(runId));
}

export function commandChannel(runId: string): BroadcastChannel {
  return new BroadcastChannel(`${channelName(runId)}:commands`);
}

export function postReport(runId: string, report: StateJobReport): void {
  const channel = reportChannel(runId);
  channel.postMessage(report);
  channel.close();
}

/** The benchmark's side: keeps every report of a run and waits for the ones it needs. */
export class Inbox {
  readonly #channel: BroadcastChannel;
  readonly #reports: StateJobReport[] = [];
  #wake: () => void = () => {};

  constructor(runId: string) {
    this.#channel = reportChannel(runId);
    this.#channel.onmessage = (event) => {
      this.#reports.push((event as { data: StateJobReport }).data);
      this.#wake();
    };
  }

  get reports(): readonly StateJobReport[] {
    return this.#reports;
  }

  /** The first report (from index `from` on) that matches, waiting up to `timeoutMs` for it. */
  async waitFor<R extends StateJobReport>(what: string, match: (r: StateJobReport) => r is R, timeoutMs: number, from = 0): Promise<R> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#reports.slice(from).find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.#channel.close();
  }
}
