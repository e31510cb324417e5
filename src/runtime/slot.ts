/**
 * A slot hosts subtasks on one thread: in threads mode, subtask i of every vertex runs in slot
 * i; in inline mode one slot hosts every subtask. The slot wires channels (local when both ends
 * are hosted here, over ports otherwise), initialises its tasks, starts them, and reports the
 * outcome once: finished when all its tasks finished, failed at the first failure. While it
 * runs it reports its tasks' metrics every second.
 */
import type { CheckpointId } from '../core/ids.ts';
import { hostname } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import type { Configuration } from '../api/configuration.ts';
import type { CheckpointOptions } from '../checkpoint/checkpoint-options.ts';
import type { SubtaskKey } from '../checkpoint/checkpoint-types.ts';
import { createCheckpointStorage } from '../checkpoint/checkpoint-storage-registry.ts';
import { assertNever } from '../core/errors.ts';
import type { TaskRestore } from './checkpoint/restore-assignment.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import type { InputChannel, OutputChannel } from './channel/channel.ts';
import { LocalChannel } from './channel/local-channel.ts';
import { RemoteInput, RemoteOutput } from './channel/remote-channel.ts';
import { planChannels } from './deployment.ts';
import type { SlotEvent, SlotEventSink } from './slot-event.ts';
import { jobScopeFormats } from './metrics/configured-scopes.ts';
import { Task } from './task/task.ts';
import type { TaskInput } from './task/task-deployment.ts';
import { resolveStateBackend } from '../state/state-backend-registry.ts';
import type { Cancellable, Scheduler } from '../core/time.ts';

/** How often a running slot reports its tasks' metrics, ms. */
export const METRICS_INTERVAL_MS = 1000;

/** This machine's name, for metric scopes. */
const HOST_NAME = hostname();

/**
 * The id of this host's TaskManager: `<host>-taskmanager-1`. A host runs one (the TaskManager
 * process of a cluster, or the worker threads of an embedded run), so the slots' tasks carry it as
 * `<tm_id>` and the REST API names the TaskManager by it: a query by `tm_id` finds it in both.
 */
export const TASK_MANAGER_ID = `${HOST_NAME}-taskmanager-1`;

/**
 * Checkpointing as a slot sets it up for its tasks; plain data, so it can cross to a worker.
 * Every job has it (savepoints need it even without periodic checkpoints).
 */
export interface SlotCheckpointing {
  /** state.checkpoints.dir: the job's checkpoints go to `<baseDir>/<jobId>/`. */
  readonly baseDir: string;
}

export interface SlotOptions {
  readonly jobId: string;
  readonly graph: JobGraph;
  /**
   * The pipeline copy whose function objects subtask i runs. In threads mode every slot built
   * its own copy; inline, the job module is imported once per slot index when it is known.
   * Subtasks without a copy of their own get copied function objects.
   */
  readonly graphFor?: ((subtaskIndex: number) => JobGraph | undefined) | undefined;
  readonly config: Configuration;
  readonly scheduler: Scheduler;
  readonly attemptNumber: number;
  /** Which subtask indexes this slot hosts: one index (threads) or all (inline). */
  readonly hosts: (subtaskIndex: number) => boolean;
  /** Ports of channels whose other end is in another slot, by channel id. */
  readonly ports: ReadonlyMap<string, MessagePort>;
  /** Where the slot's events go (one function for every kind). */
  readonly report: SlotEventSink;
  /** The task manager this slot belongs to, for metric scopes; this host's (TASK_MANAGER_ID) by default. */
  readonly taskManagerId?: string;
  readonly checkpointing: SlotCheckpointing | undefined;
  /** What each task restores, by "vertex/subtask"; absent for a fresh start. */
  readonly restores: Readonly<Record<string, TaskRestore>> | undefined;
}

export class Slot {
  readonly #o: SlotOptions;
  readonly #tasks: Task[] = [];
  #running = 0;
  #done = false;
  #stdout: string[] = [];
  #stderr: string[] = [];
  #printScheduled = false;
  #metricsTimer: Cancellable | undefined;

  constructor(options: SlotOptions) {
    this.#o = options;
  }

  get tasks(): readonly Task[] {
    return this.#tasks;
  }

  /** Creates and initialises the hosted tasks; nothing runs until start(). */
  async deploy(): Promise<void> {
    const { graph, config, hosts, ports } = this.#o;
    const credits = config.get('weir.network.credits-per-channel');
    const inputs = new Map<string, TaskInput[]>();
    const outputs = new Map<string, Map<number, OutputChannel[]>>();
    const taskKey = (vertex: number, index: number) => `${vertex}/${index}`;
    const cp = this.#o.checkpointing;
    const checkpointing = cp ? { storage: createCheckpointStorage(cp.baseDir, this.#o.jobId) } : undefined;
    const metrics = { host: HOST_NAME, taskManagerId: this.#o.taskManagerId ?? TASK_MANAGER_ID, jobName: graph.jobName, scopes: jobScopeFormats(config) };
    const stateBackend = resolveStateBackend(config);
    const where = (id: string) => `channel ${id}`;
    for (const spec of planChannels(graph)) {
      const producerHere = hosts(spec.producer);
      const consumerHere = hosts(spec.consumer);
      if (!producerHere && !consumerHere) continue;
      let out: OutputChannel | undefined;
      let inp: InputChannel | undefined;
      if (producerHere && consumerHere) {
        const ch = new LocalChannel(credits);
        out = ch.output;
        inp = ch.input;
      } else {
        const port = ports.get(spec.id);
        if (!port) throw new Error(`internal: no port for ${where(spec.id)}`);
        if (producerHere) out = new RemoteOutput(port, credits, `${spec.edge.source.name} -> ${spec.edge.target.name}`);
        else inp = new RemoteInput(port);
      }
      if (out) {
        const k = taskKey(graph.vertexOfNode[spec.edge.source.index]!, spec.producer);
        const byEdge = outputs.get(k) ?? new Map<number, OutputChannel[]>();
        outputs.set(k, byEdge);
        const list = byEdge.get(spec.edge.index) ?? [];
        byEdge.set(spec.edge.index, list);
        list.push(out);
      }
      if (inp) {
        const k = taskKey(graph.vertexOfNode[spec.edge.target.index]!, spec.consumer);
        const list = inputs.get(k) ?? [];
        inputs.set(k, list);
        list.push({ channel: inp, input: spec.edge.targetInput, edge: spec.edge.index, producer: spec.producer });
      }
    }
    for (const vertex of graph.vertices) {
      for (let i = 0; i < vertex.parallelism; i++) {
        if (!hosts(i)) continue;
        const k = taskKey(vertex.index, i);
        const own = this.#o.graphFor === undefined ? graph : this.#o.graphFor(i);
        const task: Task = new Task({
          jobId: this.#o.jobId,
          vertex: (own ?? graph).vertices[vertex.index]!,
          copyFunctions: own === undefined && (i > 0 || this.#o.graphFor !== undefined),
          subtaskIndex: i,
          attemptNumber: this.#o.attemptNumber,
          config,
          scheduler: this.#o.scheduler,
          inputs: inputs.get(k) ?? [],
          outputs: outputs.get(k) ?? new Map(),
          report: (e) => this.#onTaskEvent(task, e),
          checkpointing,
          restore: this.#o.restores?.[k],
          stateBackend,
          metrics,
        });
        this.#tasks.push(task);
      }
    }
    this.#running = this.#tasks.length;
    for (const t of this.#tasks) await t.initialize();
  }

  start(): void {
    if (this.#tasks.length === 0) {
      this.#finish();
      return;
    }
    for (const t of this.#tasks) t.start();
    this.#scheduleMetrics();
  }

  async cancel(): Promise<void> {
    this.#done = true;
    this.#stopMetrics();
    await Promise.all(this.#tasks.map((t) => t.cancel()));
    this.#flushPrint();
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  /**
   * Sources start checkpoint `checkpointId` and put `options` on their barriers; a slot with a
   * task that is not running declines it.
   */
  triggerCheckpoint(checkpointId: CheckpointId, timestamp: number, options: CheckpointOptions): void {
    if (this.#done) return;
    const notRunning = this.#tasks.find((t) => t.state !== 'RUNNING');
    if (notRunning) {
      this.#decline(checkpointId, notRunning, new Error(`${notRunning.name} is ${notRunning.state}`));
      return;
    }
    for (const t of this.#tasks) {
      if (t.vertex.nodes[0]!.transformation.kind !== 'source') continue;
      if (!t.triggerCheckpoint(checkpointId, timestamp, options)) this.#decline(checkpointId, t, new Error(`${t.name} cannot start a checkpoint now`));
    }
  }

  #decline(checkpointId: CheckpointId, t: Task, error: Error): void {
    this.#o.report({ type: 'decline', checkpointId, subtask: keyOf(t), reason: 'NOT_ALL_REQUIRED_TASKS_RUNNING', error });
  }

  /** `final`: the job's final checkpoint (see Task.notifyCheckpointComplete). */
  notifyCheckpointComplete(checkpointId: CheckpointId, final: boolean): void {
    for (const t of this.#tasks) if (t.state === 'RUNNING') t.notifyCheckpointComplete(checkpointId, final);
  }

  notifyCheckpointAborted(checkpointId: CheckpointId): void {
    for (const t of this.#tasks) if (t.state === 'RUNNING') t.notifyCheckpointAborted(checkpointId);
  }

  // ---- metrics -------------------------------------------------------------------------------

  /** Reports the latest metrics of every task of this slot now. */
  reportMetrics(): void {
    if (this.#tasks.length > 0) this.#o.report({ type: 'metrics', subtasks: this.#tasks.map((t) => t.metrics()) });
  }

  #scheduleMetrics(): void {
    if (this.#done) return;
    this.#metricsTimer = this.#o.scheduler.schedule(METRICS_INTERVAL_MS, () => {
      this.#metricsTimer = undefined;
      if (this.#done) return;
      this.reportMetrics();
      this.#scheduleMetrics();
    });
  }

  #stopMetrics(): void {
    this.#metricsTimer?.cancel();
    this.#metricsTimer = undefined;
  }

  // ---- what tasks report ---------------------------------------------------------------------

  #onTaskEvent(task: Task, e: SlotEvent): void {
    switch (e.type) {
      case 'print':
        this.#print(e.text, e.stderr);
        break;
      case 'finished':
        if (--this.#running === 0) this.#finish();
        break;
      case 'failed':
        this.#taskFailed(task, e);
        break;
      case 'collect':
      case 'data-ended':
      case 'ack':
      case 'decline':
      case 'metrics':
        this.#o.report(e);
        break;
      default:
        assertNever(e, 'task event');
    }
  }

  #print(line: string, stderr: boolean): void {
    (stderr ? this.#stderr : this.#stdout).push(line);
    if (!this.#printScheduled) {
      this.#printScheduled = true;
      setImmediate(() => this.#flushPrint());
    }
  }

  #flushPrint(): void {
    this.#printScheduled = false;
    if (this.#stdout.length > 0) this.#o.report({ type: 'print', text: this.#stdout.join('\n') + '\n', stderr: false });
    if (this.#stderr.length > 0) this.#o.report({ type: 'print', text: this.#stderr.join('\n') + '\n', stderr: true });
    this.#stdout = [];
    this.#stderr = [];
  }

  #finish(): void {
    if (this.#done) return;
    // The final values, so a finished job's metrics are complete.
    this.reportMetrics();
    this.#done = true;
    this.#stopMetrics();
    this.#flushPrint();
    this.#o.report({ type: 'finished' });
  }

  #taskFailed(task: Task, e: Extract<SlotEvent, { type: 'failed' }>): void {
    if (this.#done) return;
    this.#done = true;
    this.#stopMetrics();
    this.#flushPrint();
    this.#o.report(e);
    for (const t of this.#tasks) if (t !== task) void t.cancel();
  }
}

function keyOf(t: Task): SubtaskKey {
  return { vertex: t.vertex.index, subtask: t.subtaskIndex };
}
