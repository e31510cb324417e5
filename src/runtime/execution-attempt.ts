/**
 * One deployment of a job's tasks (Flink's execution attempt, for the whole job at once): every
 * subtask built, initialised (restoring state when given), started, and finally stopped. A
 * failover cancels the attempt and deploys a new one; nothing of the old attempt is reused, so
 * user function objects and channels always start fresh.
 *
 * Two transports: threads (one worker thread per slot, channels over MessagePorts) and inline
 * (one slot on the launcher's thread). Both report the same events (`SlotEvent`) through one
 * sink: slots finish once each; a failure may be reported more than once.
 */
import type { CheckpointId } from '../core/ids.ts';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { executionRegistry, type Pipeline } from '../api/execution-context.ts';
import type { CheckpointOptions } from '../checkpoint/checkpoint-options.ts';
import { assertNever } from '../core/errors.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import type { TaskRestore } from './checkpoint/restore-assignment.ts';
import { planChannels, slotCount } from './deployment.ts';
import { rebuildPipeline } from './pipeline-rebuild.ts';
import type { SlotEvent, SlotEventSink } from './slot-event.ts';
// The slot's modules (tasks, operators, channels) load only where an attempt runs inline: a
// threads-mode launcher never hosts a subtask.
import type { Slot, SlotCheckpointing } from './slot.ts';
import { sleep, systemScheduler } from '../core/time.ts';
import { slotEventFromWire, type FromWorker, type ToWorker } from './worker/protocol.ts';
import { spawnLocalWorkers, type SlotSpec, type WorkerGroup, type WorkerGroupFactory } from './worker-group.ts';

/** How the job was launched, captured at submission (the launcher's registry may change later). */
export interface LaunchContext {
  /** The module that builds the job, when known; workers and inline slots re-import it. */
  readonly jobModule: string | undefined;
  readonly overrides: Record<string, unknown>;
  readonly jobArgs: readonly string[];
  /** process.argv as the job module saw it; an inline re-import sees it again. */
  readonly argv: readonly string[];
}

/** The launch context as the registry holds it now. */
export function currentLaunchContext(): LaunchContext {
  const r = executionRegistry();
  return { jobModule: r.jobModule, overrides: { ...r.overrides }, jobArgs: [...(r.jobArgs ?? process.argv.slice(2))], argv: [...process.argv] };
}

export interface AttemptOptions {
  readonly jobId: string;
  readonly launch: LaunchContext;
  readonly pipeline: Pipeline;
  readonly graph: JobGraph;
  readonly attemptNumber: number;
  /** Whether the restart strategy allows another attempt after this one. */
  readonly mayRestart: boolean;
  readonly checkpointing: SlotCheckpointing | undefined;
  /** By "vertex/subtask"; absent for a fresh start. */
  readonly restores: Record<string, TaskRestore> | undefined;
  /** Where the attempt's events go: every slot's, and failures of the deployment or of a worker. */
  readonly events: SlotEventSink;
}

export interface ExecutionAttempt {
  /** How many slots report finished when every task finished. */
  readonly slots: number;
  /** Builds and initialises every task; failures are reported as events (the promise still resolves). */
  deploy(): Promise<void>;
  /** Starts processing; only after deploy() resolved without a failure. */
  start(): void;
  /** Sources start the checkpoint; their barriers carry `options` (what it is) to every task. */
  triggerCheckpoint(checkpointId: CheckpointId, timestamp: number, options: CheckpointOptions): void;
  /** Every slot reports its tasks' metrics now (they also do every second while running). */
  requestMetrics(): void;
  /** `final`: the job's final checkpoint, after which tasks whose input ended end. */
  notifyCheckpointComplete(checkpointId: CheckpointId, final: boolean): void;
  notifyCheckpointAborted(checkpointId: CheckpointId): void;
  /** Stops every task; resolves when the attempt's threads are gone. Idempotent. */
  cancel(): Promise<void>;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Every subtask on the calling thread, in one slot. */
export class InlineAttempt implements ExecutionAttempt {
  readonly slots = 1;
  readonly #o: AttemptOptions;
  #slot: Slot | undefined;
  #failed = false;

  constructor(o: AttemptOptions) {
    this.#o = o;
  }

  async deploy(): Promise<void> {
    const o = this.#o;
    const jobModule = o.launch.jobModule;
    // The caller's own function objects serve subtask 0 only in a first attempt that can never
    // restart with them; otherwise they stay pristine and every subtask gets a copy or an import.
    const graphs: (JobGraph | undefined)[] = [o.attemptNumber === 0 && (jobModule !== undefined || !o.mayRestart) ? o.graph : undefined];
    try {
      if (jobModule !== undefined) {
        // Each slot index gets function objects of its own from its own import of the module;
        // a restarted attempt imports again, so no object carries fields over from a failed run.
        const sep = jobModule.includes('?') ? '&' : '?';
        const expected = { ordinal: o.pipeline.ordinal, ...o.graph };
        const registry = executionRegistry();
        const saved = { argv: process.argv, overrides: registry.overrides, jobModule: registry.jobModule };
        // The module sees the arguments and options it was launched with, as in a worker.
        process.argv = [...o.launch.argv];
        registry.overrides = o.launch.overrides;
        registry.jobModule = jobModule;
        try {
          for (let i = o.attemptNumber === 0 ? 1 : 0; i < slotCount(o.graph); i++) {
            const url = `${jobModule}${sep}weir-slot=${i}${o.attemptNumber > 0 ? `&weir-attempt=${o.attemptNumber}` : ''}`;
            graphs[i] = (await rebuildPipeline(url, expected, `inline slot ${i}`)).graph;
          }
        } finally {
          process.argv = saved.argv;
          registry.overrides = saved.overrides;
          registry.jobModule = saved.jobModule;
        }
      }
      const { Slot } = await import('./slot.ts');
      const slot = new Slot({
        jobId: o.jobId,
        graph: o.graph,
        graphFor: (i) => graphs[i],
        config: o.pipeline.config,
        scheduler: systemScheduler,
        attemptNumber: o.attemptNumber,
        hosts: () => true,
        ports: new Map(),
        report: (e) => {
          if (e.type === 'failed') this.#failed = true;
          o.events(e);
        },
        checkpointing: o.checkpointing,
        restores: o.restores,
      });
      this.#slot = slot;
      await slot.deploy();
    } catch (e) {
      this.#failed = true;
      o.events({ type: 'failed', error: toError(e), task: 'deployment' });
    }
  }

  start(): void {
    if (!this.#failed) this.#slot?.start();
  }
  triggerCheckpoint(checkpointId: CheckpointId, timestamp: number, options: CheckpointOptions): void {
    this.#slot?.triggerCheckpoint(checkpointId, timestamp, options);
  }
  requestMetrics(): void {
    this.#slot?.reportMetrics();
  }
  notifyCheckpointComplete(checkpointId: CheckpointId, final: boolean): void {
    this.#slot?.notifyCheckpointComplete(checkpointId, final);
  }
  notifyCheckpointAborted(checkpointId: CheckpointId): void {
    this.#slot?.notifyCheckpointAborted(checkpointId);
  }
  async cancel(): Promise<void> {
    await this.#slot?.cancel();
  }
}

/** The job module workers import: registered by the CLI or the test harness, else the main script. */
export function resolveJobModule(launch: LaunchContext): string {
  const candidate = launch.jobModule ?? process.argv[1];
  if (!candidate) {
    throw new Error('threads mode needs the job as a module file: run it with `weir run job.ts`, or use inline mode (env.setExecutionMode("inline"))');
  }
  if (candidate.startsWith('file:')) return candidate;
  const path = resolve(candidate);
  if (!existsSync(path)) throw new Error(`the job module ${path} does not exist`);
  if (/\.test\.[cm]?[jt]s$/.test(path)) {
    throw new Error(
      `threads mode re-imports the job module in every worker, and ${path} is a test file: put the job in its own module and run it with runJob() from weir/testing, or use inline mode`,
    );
  }
  return pathToFileURL(path).href;
}

/** One worker thread per slot; subtask i of every vertex runs in slot i. */
export class ThreadsAttempt implements ExecutionAttempt {
  readonly slots: number;
  readonly #o: AttemptOptions;
  readonly #jobModule: string;
  readonly #spawn: WorkerGroupFactory;
  #group: WorkerGroup | undefined;
  #stopping = false;

  /** `spawn` decides where the worker threads run: in this process by default. */
  constructor(o: AttemptOptions, jobModule: string, spawn: WorkerGroupFactory = spawnLocalWorkers) {
    this.#o = o;
    this.#jobModule = jobModule;
    this.#spawn = spawn;
    this.slots = slotCount(o.graph);
  }

  deploy(): Promise<void> {
    const o = this.#o;
    const events = o.events;
    const n = this.slots;
    const slots: SlotSpec[] = [];
    for (let slot = 0; slot < n; slot++) {
      let restores: Record<string, TaskRestore> | undefined;
      if (o.restores) {
        restores = {};
        for (const [k, r] of Object.entries(o.restores)) if (k.endsWith(`/${slot}`)) restores[k] = r;
      }
      slots.push({
        jobId: o.jobId,
        ordinal: o.pipeline.ordinal,
        slot,
        attemptNumber: o.attemptNumber,
        fingerprint: o.graph.fingerprint,
        description: o.graph.description,
        overrides: o.launch.overrides,
        checkpointing: o.checkpointing,
        restores,
      });
    }
    const channels = planChannels(o.graph)
      .filter((c) => c.producer !== c.consumer)
      .map((c) => ({ id: c.id, producer: c.producer, consumer: c.consumer }));
    let ready = 0;
    return new Promise<void>((resolveReady) => {
      const failed = (error: Error, task: string): void => {
        events({ type: 'failed', error, task });
        resolveReady();
      };
      this.#group = this.#spawn(
        { jobModule: this.#jobModule, channels, slots, argv: [...o.launch.jobArgs] },
        {
          message: (_slot, m: FromWorker) => {
            switch (m.type) {
              case 'ready':
                if (++ready === n) resolveReady();
                break;
              case 'canceled':
                break;
              case 'failed':
              case 'print':
              case 'collect':
              case 'finished':
              case 'data-ended':
              case 'ack':
              case 'decline':
              case 'metrics': {
                const e: SlotEvent = slotEventFromWire(m);
                events(e);
                if (e.type === 'failed') resolveReady();
                break;
              }
              default:
                assertNever(m, 'worker message');
            }
          },
          error: (slot, e) => failed(e, `worker ${slot}`),
          exit: (slot, code) => {
            if (!this.#stopping) failed(new Error(`worker thread of slot ${slot} exited unexpectedly with code ${code}`), `slot ${slot}`);
          },
        },
      );
    });
  }

  #post(m: ToWorker): void {
    this.#group?.post(m);
  }
  start(): void {
    this.#post({ type: 'start' });
  }
  triggerCheckpoint(checkpointId: CheckpointId, timestamp: number, options: CheckpointOptions): void {
    this.#post({ type: 'trigger-checkpoint', checkpointId, timestamp, options });
  }
  requestMetrics(): void {
    this.#post({ type: 'report-metrics' });
  }
  notifyCheckpointComplete(checkpointId: CheckpointId, final: boolean): void {
    this.#post({ type: 'checkpoint-complete', checkpointId, final });
  }
  notifyCheckpointAborted(checkpointId: CheckpointId): void {
    this.#post({ type: 'checkpoint-aborted', checkpointId });
  }

  /** Kills one slot's thread, as a crash would (for failure tests). */
  async killSlot(slot: number): Promise<void> {
    await this.#group?.kill(slot);
  }

  /** Asks sources to stop, gives them a moment, then stops the threads either way. */
  async cancel(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#post({ type: 'cancel' });
    await sleep(systemScheduler, 20);
    await this.release();
  }

  /** Stops the threads at once (the job already ended on its own). */
  async release(): Promise<void> {
    this.#stopping = true;
    const group = this.#group;
    this.#group = undefined;
    await group?.terminate();
  }
}
