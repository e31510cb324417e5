/**
 * Where the slot workers of an execution attempt run. The attempt describes the group (one
 * worker per slot, the channels between them, what each slot deploys) and a factory starts it:
 * in this process as worker threads, or in a TaskManager process that the factory talks to.
 * Either way the attempt sees the same events, so failover and checkpointing do not depend on
 * where the threads live.
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { currentEngineBundle } from './worker/engine-bundle.mjs';
import type { FromWorker, ToWorker, WorkerData } from './worker/protocol.ts';

const BOOTSTRAP = new URL('./worker/worker-bootstrap.mjs', import.meta.url);

/** What one slot deploys: its WorkerData without what the host supplies (ports, module, engine). */
export type SlotSpec = Omit<WorkerData, 'ports' | 'jobModule' | 'engine'>;

/** Plain data, so that it can cross to another process. */
export interface WorkerGroupSpec {
  /** The job module URL as this process sees it; a remote host substitutes its own copy. */
  readonly jobModule: string;
  /** Channels between two different slots (a producer and a consumer slot index). */
  readonly channels: readonly { readonly id: string; readonly producer: number; readonly consumer: number }[];
  /** Indexed by slot. */
  readonly slots: readonly SlotSpec[];
  /** The job's arguments, as process.argv.slice(2) in each worker. */
  readonly argv: readonly string[];
}

export interface WorkerGroupEvents {
  message(slot: number, m: FromWorker): void;
  error(slot: number, e: Error): void;
  /** A worker ended; also reported for workers stopped by terminate(). */
  exit(slot: number, code: number): void;
}

export interface WorkerGroup {
  /** Sends a message to every worker of the group. */
  post(m: ToWorker): void;
  /** Stops one worker at once, as a crash would (for failure tests). */
  kill(slot: number): Promise<void>;
  /** Stops every worker; resolves when they are gone. Idempotent. */
  terminate(): Promise<void>;
}

export type WorkerGroupFactory = (spec: WorkerGroupSpec, events: WorkerGroupEvents) => WorkerGroup;

/**
 * Starts the group as worker threads of this process. They run this process's weir, from the
 * precompiled bundle of its sources as they are now (see worker/engine-bundle.mjs).
 */
export const spawnLocalWorkers: WorkerGroupFactory = (spec, events) => {
  const n = spec.slots.length;
  const engine = currentEngineBundle();
  const ports: Record<string, MessagePort>[] = Array.from({ length: n }, () => ({}));
  for (const c of spec.channels) {
    const { port1, port2 } = new MessageChannel();
    ports[c.producer]![c.id] = port1;
    ports[c.consumer]![c.id] = port2;
  }
  let workers: Worker[] = spec.slots.map((slot, i) => {
    const data: WorkerData = { ...slot, jobModule: spec.jobModule, ports: ports[i]!, engine };
    const worker = new Worker(fileURLToPath(BOOTSTRAP), { workerData: data, transferList: Object.values(ports[i]!), argv: [...spec.argv] });
    worker.on('message', (m: FromWorker) => events.message(i, m));
    worker.on('error', (e) => events.error(i, e));
    worker.on('exit', (code) => events.exit(i, code));
    return worker;
  });
  return {
    post(m) {
      for (const w of workers) w.postMessage(m);
    },
    async kill(slot) {
      await workers[slot]?.terminate();
    },
    async terminate() {
      const all = workers;
      workers = [];
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
};
