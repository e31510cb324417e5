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
 * What a pre-started worker is told at its start (its workerData), before the job it is to run
 * has a graph: the job module, when known, and the engine, so that it can load the engine and
 * set up module loading while the launcher imports the job. It gets its WorkerData, the slot's
 * ports transferred with it, in the first message (PrestartAssignment) when a group adopts it.
 * A worker started before the command line was read (no job module yet) loads the engine and
 * sets up module loading for the job once assigned.
 */
export interface PrestartData {
  readonly prestarted: true;
  readonly jobModule: string | undefined;
  readonly engine: WorkerData['engine'];
}

/** The first message to a pre-started worker. */
export interface PrestartAssignment {
  readonly type: 'weir-slot-assignment';
  readonly data: WorkerData;
  /** The job's arguments, for a worker started before they were known: its process.argv.slice(2). */
  readonly argv: readonly string[];
}

/** A worker started ahead of its group; events before adoption are held for the group. */
interface PrestartedWorker {
  readonly worker: Worker;
  /** The job module it was started for; undefined: started before the job was known, fits any. */
  readonly jobModule: string | undefined;
  /** The job's arguments (JSON) it was started with; undefined with jobModule. */
  readonly argv: string | undefined;
  readonly engineKey: string | undefined;
  /** Set once it has failed or exited before a group took it; such a worker is not adopted. */
  dead: boolean;
  events: WorkerGroupEvents | undefined;
  slot: number;
}

const prestarted: PrestartedWorker[] = [];

function startWorker(workerData: WorkerData | PrestartData, transferList: MessagePort[], argv: readonly string[]): Worker {
  return new Worker(fileURLToPath(BOOTSTRAP), { workerData, transferList, argv: [...argv] });
}

/**
 * Starts slot workers for the job module `jobModule` before its graph is known, so that their
 * start-up (the thread, the engine, module loading) overlaps the launcher's own import of the
 * job; the next group started for the same job module and arguments in this process takes them
 * (spawnLocalWorkers). `count` is how many the job is expected to need, counting workers already
 * started for any job (startEarlyWorkers). They do not keep the process alive while no group has
 * taken them. A guess of the count that is too high costs idle threads, one too low costs nothing.
 */
export function prestartLocalWorkers(jobModule: string, argv: readonly string[], count: number): void {
  const early = prestarted.filter((w) => w.jobModule === undefined && !w.dead).length;
  start(jobModule, argv, count - early);
}

/**
 * Starts `count` slot workers before the command line has been read, for whatever job this
 * process runs next (the launcher's first step, see cli/early-workers.ts): the thread and the
 * engine start while the command line interface loads. The group of the next job takes them.
 */
export function startEarlyWorkers(count: number): void {
  start(undefined, undefined, count);
}

function start(jobModule: string | undefined, argv: readonly string[] | undefined, count: number): void {
  const engine = currentEngineBundle();
  for (let i = 0; i < count; i++) {
    const worker = startWorker({ prestarted: true, jobModule, engine }, [], argv ?? []);
    const w: PrestartedWorker = { worker, jobModule, argv: argv && JSON.stringify(argv), engineKey: engine?.key, dead: false, events: undefined, slot: -1 };
    worker.on('message', (m: FromWorker) => w.events?.message(w.slot, m));
    worker.on('error', (e) => {
      if (w.events) w.events.error(w.slot, e);
      else w.dead = true;
    });
    worker.on('exit', (code) => {
      if (w.events) w.events.exit(w.slot, code);
      else w.dead = true;
    });
    // After the listeners: a 'message' listener refs the worker again.
    worker.unref();
    prestarted.push(w);
  }
}

/** Stops the workers prestartLocalWorkers started that no group has taken. */
export function releasePrestartedWorkers(): void {
  for (const w of prestarted.splice(0)) void w.worker.terminate();
}

/**
 * Takes a pre-started worker for the job module and arguments, if one is there and alive: one
 * started for them, else one started for any job.
 */
function takePrestarted(jobModule: string, argv: readonly string[], engineKey: string | undefined): PrestartedWorker | undefined {
  const args = JSON.stringify(argv);
  const fits = (w: PrestartedWorker, exact: boolean) => w.engineKey === engineKey && (exact ? w.jobModule === jobModule && w.argv === args : w.jobModule === undefined);
  for (;;) {
    let i = prestarted.findIndex((w) => fits(w, true));
    if (i === -1) i = prestarted.findIndex((w) => fits(w, false));
    if (i === -1) return undefined;
    const [w] = prestarted.splice(i, 1);
    if (!w!.dead) return w;
  }
}

/**
 * Starts the group as worker threads of this process. They run this process's weir, from the
 * precompiled bundle of its sources as they are now (see worker/engine-bundle.mjs). Workers
 * pre-started for the job (prestartLocalWorkers) are taken first.
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
    const transfer = Object.values(ports[i]!);
    const early = takePrestarted(spec.jobModule, spec.argv, engine?.key);
    if (early !== undefined) {
      early.slot = i;
      early.events = events;
      early.worker.ref();
      early.worker.postMessage({ type: 'weir-slot-assignment', data, argv: spec.argv } satisfies PrestartAssignment, transfer);
      return early.worker;
    }
    const worker = startWorker(data, transfer, spec.argv);
    worker.on('message', (m: FromWorker) => events.message(i, m));
    worker.on('error', (e) => events.error(i, e));
    worker.on('exit', (code) => events.exit(i, code));
    return worker;
  });
  // The job's group is started; what was started for it beyond the group's size would idle.
  for (let i = prestarted.length - 1; i >= 0; i--) {
    const m = prestarted[i]!.jobModule;
    if (m === spec.jobModule || m === undefined) void prestarted.splice(i, 1)[0]!.worker.terminate();
  }
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
