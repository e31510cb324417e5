/**
 * A slot hosts subtasks on one thread: in threads mode, subtask i of every vertex runs in slot
 * i; in inline mode one slot hosts every subtask. The slot wires channels (local when both ends
 * are hosted here, over ports otherwise), initialises its tasks, starts them, and reports the
 * outcome once: finished when all its tasks finished, failed at the first failure.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Configuration } from '../api/configuration.ts';
import type { CheckpointTriggerOptions } from '../checkpoint/checkpoint-coordinator.ts';
import type { CheckpointFailureReason, SubtaskAcknowledgement, SubtaskKey } from '../checkpoint/checkpoint-types.ts';
import { FileSystemCheckpointStorage } from '../checkpoint/filesystem-checkpoint-storage.ts';
import type { AlignmentMode } from './checkpoint/barrier-aligner.ts';
import type { TaskRestore } from './checkpoint/restore-assignment.ts';
import type { JobGraph } from '../graph/job-graph.ts';
import type { InputChannel, OutputChannel } from './channel/channel.ts';
import { LocalChannel } from './channel/local-channel.ts';
import { RemoteInput, RemoteOutput } from './channel/remote-channel.ts';
import { planChannels } from './deployment.ts';
import { Task, type TaskHost } from './task.ts';
import { resolveStateBackend } from '../state/state-backend-registry.ts';
import type { Scheduler } from '../core/time.ts';

export interface SlotReporter {
  print(text: string, stderr: boolean): void;
  collect(collectId: string, values: unknown[], epoch: number): void;
  finished(): void;
  failed(error: Error, task: string): void;
  acknowledge(ack: SubtaskAcknowledgement): void;
  decline(checkpointId: number, subtask: SubtaskKey, reason: CheckpointFailureReason, error: Error): void;
}

/**
 * Checkpointing as a slot sets it up for its tasks; plain data, so it can cross to a worker.
 * Every job has it (savepoints need it even without periodic checkpoints).
 */
export interface SlotCheckpointing {
  /** Alignment of ordinary checkpoints; savepoints are always aligned. */
  readonly mode: AlignmentMode;
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
  readonly reporter: SlotReporter;
  readonly checkpointing: SlotCheckpointing | undefined;
  /** What each task restores, by "vertex/subtask"; absent for a fresh start. */
  readonly restores: Readonly<Record<string, TaskRestore>> | undefined;
}

export class Slot implements TaskHost {
  readonly #o: SlotOptions;
  readonly #tasks: Task[] = [];
  #running = 0;
  #done = false;
  #stdout: string[] = [];
  #stderr: string[] = [];
  #printScheduled = false;

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
    const inputs = new Map<string, { channel: InputChannel; input: 0 | 1 }[]>();
    const outputs = new Map<string, Map<number, OutputChannel[]>>();
    const taskKey = (vertex: number, index: number) => `${vertex}/${index}`;
    const cp = this.#o.checkpointing;
    const checkpointing = cp ? { mode: cp.mode, storage: new FileSystemCheckpointStorage(cp.baseDir, this.#o.jobId) } : undefined;
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
        list.push({ channel: inp, input: spec.edge.targetInput });
      }
    }
    for (const vertex of graph.vertices) {
      for (let i = 0; i < vertex.parallelism; i++) {
        if (!hosts(i)) continue;
        const k = taskKey(vertex.index, i);
        const own = this.#o.graphFor === undefined ? graph : this.#o.graphFor(i);
        this.#tasks.push(
          new Task({
            jobId: this.#o.jobId,
            vertex: (own ?? graph).vertices[vertex.index]!,
            copyFunctions: own === undefined && (i > 0 || this.#o.graphFor !== undefined),
            subtaskIndex: i,
            attemptNumber: this.#o.attemptNumber,
            config,
            scheduler: this.#o.scheduler,
            inputs: inputs.get(k) ?? [],
            outputs: outputs.get(k) ?? new Map(),
            host: this,
            checkpointing,
            restore: this.#o.restores?.[k],
            stateBackend,
          }),
        );
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
  }

  async cancel(): Promise<void> {
    this.#done = true;
    await Promise.all(this.#tasks.map((t) => t.cancel()));
    this.#flushPrint();
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  /**
   * Sources start checkpoint `checkpointId`; a slot with a task that is not running declines it.
   * Every task first learns what the checkpoint is (`options`): a savepoint's files go to its
   * directory, and a stop changes how the tasks end.
   */
  triggerCheckpoint(checkpointId: number, timestamp: number, options: CheckpointTriggerOptions = { isSavepoint: false }): void {
    if (this.#done) return;
    for (const t of this.#tasks) t.announceCheckpoint(checkpointId, options);
    const notRunning = this.#tasks.find((t) => t.state !== 'RUNNING');
    if (notRunning) {
      this.#o.reporter.decline(checkpointId, keyOf(notRunning), 'NOT_ALL_REQUIRED_TASKS_RUNNING', new Error(`${notRunning.name} is ${notRunning.state}`));
      return;
    }
    for (const t of this.#tasks) {
      if (t.vertex.nodes[0]!.transformation.kind !== 'source') continue;
      if (!t.triggerCheckpoint(checkpointId, timestamp, options)) {
        this.#o.reporter.decline(checkpointId, keyOf(t), 'NOT_ALL_REQUIRED_TASKS_RUNNING', new Error(`${t.name} cannot start a checkpoint now`));
      }
    }
  }

  notifyCheckpointComplete(checkpointId: number): void {
    for (const t of this.#tasks) if (t.state === 'RUNNING') t.notifyCheckpointComplete(checkpointId);
  }

  notifyCheckpointAborted(checkpointId: number): void {
    for (const t of this.#tasks) if (t.state === 'RUNNING') t.notifyCheckpointAborted(checkpointId);
  }

  acknowledgeCheckpoint(_task: Task, ack: SubtaskAcknowledgement): void {
    this.#o.reporter.acknowledge(ack);
  }

  declineCheckpoint(task: Task, checkpointId: number, reason: CheckpointFailureReason, error: Error): void {
    this.#o.reporter.decline(checkpointId, keyOf(task), reason, error);
  }

  // ---- TaskHost ------------------------------------------------------------------------------

  print(line: string, stderr: boolean): void {
    (stderr ? this.#stderr : this.#stdout).push(line);
    if (!this.#printScheduled) {
      this.#printScheduled = true;
      setImmediate(() => this.#flushPrint());
    }
  }

  #flushPrint(): void {
    this.#printScheduled = false;
    if (this.#stdout.length > 0) this.#o.reporter.print(this.#stdout.join('\n') + '\n', false);
    if (this.#stderr.length > 0) this.#o.reporter.print(this.#stderr.join('\n') + '\n', true);
    this.#stdout = [];
    this.#stderr = [];
  }

  collect(collectId: string, values: unknown[], epoch: number): void {
    this.#o.reporter.collect(collectId, values, epoch);
  }

  taskFinished(): void {
    if (--this.#running === 0) this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#flushPrint();
    this.#o.reporter.finished();
  }

  taskFailed(task: Task, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#flushPrint();
    this.#o.reporter.failed(error, task.name);
    for (const t of this.#tasks) if (t !== task) void t.cancel();
  }
}

function keyOf(t: Task): SubtaskKey {
  return { vertex: t.vertex.index, subtask: t.subtaskIndex };
}
