/**
 * One parallel subtask of a job vertex: a chain of operators fed either by a source or by
 * input channels, writing to output channels. The task composes its parts and owns its
 * lifecycle; each concern lives in its own file:
 *
 * - `task-lifecycle.ts`: the task's state and its transitions;
 * - `task-mailbox.ts`: the mailbox (default action in bounded bursts, mails between them);
 * - `operator-chain.ts`: the chain's operators, contexts, outputs and writers;
 * - `network-input.ts`: reading input channels into the head operator;
 * - `split-reader-driver.ts`, `source-function-driver.ts`: the two kinds of source;
 * - `checkpoint-participant.ts`: barrier → snapshot → persist → acknowledge, and stops.
 *
 * A burst stops when any output channel lacks credit (backpressure), when a sink asked the task
 * to wait, or when its time slice is spent, after which the task yields so I/O, other tasks and
 * control messages (checkpoint triggers among them) get their turn. The slice is measured in
 * time, not records: a slow user function must not delay a checkpoint by the length of a
 * record-counted burst.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { Source, SourceSplit } from '../../api/source.ts';
import type { CheckpointOptions } from '../../checkpoint/checkpoint-options.ts';
import type { JobVertex } from '../../graph/job-graph.ts';
import { takesFinalCheckpoint } from '../../api/configuration.ts';
import { END_OF_DATA, END_OF_PARTITION } from '../events.ts';
import { MetricRegistry } from '../metrics/metric-registry.ts';
import type { SubtaskMetrics } from '../metrics/metric-snapshot.ts';
import type { SimpleCounter } from '../metrics/simple-counter.ts';
import { TaskTimeShare } from '../metrics/task-time-share.ts';
import { registerOperatorIoMetrics, registerTaskIoMetrics, type TaskIo, type TaskIoMetrics } from '../metrics/task-io-metrics.ts';
import { RemoteInput, RemoteOutput } from '../channel/remote-channel.ts';
import { taskMetricGroup, type ScopedMetricGroup } from '../metrics/task-metric-group.ts';
import { tagError } from '../operators/operator.ts';
import { Backpressure } from '../record-writer.ts';
import { ElementsSource, NumberSequenceSource } from '../sources/builtin-sources.ts';
import { CheckpointParticipant, type CheckpointHost } from './checkpoint-participant.ts';
import { NetworkInput } from './network-input.ts';
import { loadChannelState } from '../checkpoint/channel-state.ts';
import { checkpointReaderFor } from '../../checkpoint/checkpoint-storage-registry.ts';
import { OperatorChain } from './operator-chain.ts';
import type { SourceDriver } from './source-driver.ts';
import { SourceFunctionDriver } from './source-function-driver.ts';
import type { SourceTaskHost } from './source-task-host.ts';
import { SplitReaderDriver } from './split-reader-driver.ts';
import type { TaskDeployment } from './task-deployment.ts';
import { TaskLifecycle, type TaskState } from './task-lifecycle.ts';
import { TaskMailbox } from './task-mailbox.ts';

export type { TaskState } from './task-lifecycle.ts';
export type { TaskCheckpointing, TaskDeployment } from './task-deployment.ts';

/** The parts of a task as its parts see each other (sources, input, checkpoints, mailbox). */
interface TaskCore extends Omit<CheckpointHost, 'endingInput'>, SourceTaskHost {
  readonly backpressure: Backpressure;
  /** Set once, right after the core is made (the participant needs the core). */
  checkpoints: CheckpointParticipant;
  source: SourceDriver | undefined;
  input: NetworkInput | undefined;
}

export class Task {
  readonly name: string;
  readonly vertex: JobVertex;
  readonly subtaskIndex: number;
  readonly #d: TaskDeployment;
  readonly #core: TaskCore;
  readonly #metrics = new MetricRegistry();
  readonly #taskGroup: ScopedMetricGroup;
  readonly #recordsIn: SimpleCounter;
  readonly #recordsOut: SimpleCounter;
  readonly #io: TaskIo;
  readonly #ioMetrics: TaskIoMetrics;
  /** Whether the end of input waits for the job's final checkpoint (FLIP-147) before the task ends. */
  readonly #finalCheckpoint: boolean;

  constructor(deployment: TaskDeployment) {
    this.#d = deployment;
    this.vertex = deployment.vertex;
    this.subtaskIndex = deployment.subtaskIndex;
    this.name = `${this.vertex.name} (${this.subtaskIndex + 1}/${this.vertex.parallelism})`;
    this.#finalCheckpoint = deployment.checkpointing !== undefined && takesFinalCheckpoint(deployment.config);
    const lifecycle = new TaskLifecycle();
    const backpressure = new Backpressure();
    const mailbox = new TaskMailbox({
      get running() {
        return lifecycle.state === 'RUNNING';
      },
      processInput: () => {
        const core = this.#core;
        if (core.source !== undefined) core.source.processInput();
        else core.input?.processInput();
      },
      resumed: () => this.#core.source?.resume(),
      fail: (e) => this.#fail(e),
    });
    let endingInput = false;
    const share = new TaskTimeShare({ busyMs: () => mailbox.busyMs, backPressuredMs: (now) => backpressure.blockedMs(now) });
    const core: TaskCore = {
      name: this.name,
      lifecycle,
      mailbox,
      backpressure,
      chain: new OperatorChain(deployment, this.name),
      checkpoints: undefined as unknown as CheckpointParticipant, // set below
      source: undefined,
      input: undefined,
      get endingInput() {
        return endingInput;
      },
      set endingInput(v: boolean) {
        endingInput = v;
      },
      fail: (e) => this.#fail(e),
      endInput: () => this.#endInput(),
      endStopped: () => {
        this.#core.source?.cancel();
        void (this.#core.checkpoints.dataEnded ? this.#end() : this.#endInput(true));
      },
      endFinal: () => void this.#end(),
      timeShare: () => share.current(),
      currentRemainder: () => this.#core.input?.currentRemainder(),
    };
    core.checkpoints = new CheckpointParticipant(core, deployment);
    this.#core = core;
    backpressure.onRelease = () => {
      mailbox.schedule();
      core.source?.resume();
    };
    const group = taskMetricGroup(this.#metrics, deployment.scheduler, {
      host: deployment.metrics.host,
      taskManagerId: deployment.metrics.taskManagerId,
      jobId: deployment.jobId,
      jobName: deployment.metrics.jobName,
      taskName: this.vertex.name,
      subtaskIndex: this.subtaskIndex,
      attemptNumber: deployment.attemptNumber,
      taskId: this.vertex.nodes[0]!.operatorId,
    }, deployment.metrics.scopes);
    this.#taskGroup = group;
    this.#recordsIn = group.counter('numRecordsIn') as SimpleCounter;
    this.#recordsOut = group.counter('numRecordsOut') as SimpleCounter;
    group.gauge('busyTimeMsPerSecond', () => share.current().busy);
    group.gauge('backPressuredTimeMsPerSecond', () => share.current().backPressured);
    group.gauge('idleTimeMsPerSecond', () => share.current().idle);
    group.gauge('accumulatedBusyTime', () => share.accumulated().busy);
    group.gauge('accumulatedBackPressuredTime', () => share.accumulated().backPressured);
    group.gauge('accumulatedIdleTime', () => share.accumulated().idle);
    const outputs = [...deployment.outputs.values()].flat();
    const inputs = deployment.inputs.map((i) => i.channel);
    this.#io = {
      recordsIn: this.#recordsIn,
      recordsOut: this.#recordsOut,
      bytesIn: () => inputs.reduce((n, c) => n + (c instanceof RemoteInput ? c.bytesIn : 0), 0),
      bytesOut: () => outputs.reduce((n, c) => n + (c instanceof RemoteOutput ? c.bytesOut : 0), 0),
      inputWatermark: () => core.input?.inputWatermark ?? -Infinity,
      outputWatermark: () => {
        const writers = core.chain.writers;
        return writers.length === 0 ? (core.input?.inputWatermark ?? -Infinity) : Math.max(...writers.map((w) => w.lastWatermark));
      },
      alignmentMs: () => core.checkpoints.lastAlignmentMs,
      startDelayMs: () => core.checkpoints.lastStartDelayMs,
    };
    this.#ioMetrics = registerTaskIoMetrics(group, deployment.scheduler, this.#io);
  }

  get state(): TaskState {
    return this.#core.lifecycle.state;
  }

  /** The latest values of this subtask's metrics. */
  metrics(): SubtaskMetrics {
    return {
      vertex: this.vertex.index,
      subtask: this.subtaskIndex,
      taskName: this.name,
      timestamp: this.#d.scheduler.now(),
      metrics: this.#metrics.snapshot(),
    };
  }

  // ---- set-up --------------------------------------------------------------------------------

  /** Builds the chain's operators and outputs, then opens them tail first (Flink's order). */
  async initialize(): Promise<void> {
    const core = this.#core;
    core.lifecycle.to('INITIALIZING');
    const d = this.#d;
    const chain = core.chain;
    await chain.build(
      { suspendUntil: (p) => core.mailbox.suspendUntil(p), get epoch() { return core.checkpoints.epoch; }, fail: (e) => this.#fail(e) },
      core.mailbox.scheduler(d.scheduler),
      core.backpressure,
      { registry: this.#metrics, task: this.#taskGroup, recordsOut: this.#recordsOut },
    );
    const headNode = this.vertex.nodes[0]!;
    // Output figures go to the one node whose edges leave the task, when only one does.
    const leaving = new Set(this.vertex.outputs.map((e) => e.source.index));
    const writerAt = leaving.size === 1 ? this.vertex.nodes.findIndex((n) => leaving.has(n.index)) : -1;
    const isSource = headNode.transformation.kind === 'source';
    registerOperatorIoMetrics(this.#io, this.#ioMetrics, isSource ? undefined : chain.contexts[0]?.metricGroup, chain.contexts[writerAt]?.metricGroup);
    if (headNode.transformation.kind === 'source') {
      const spec = headNode.transformation.source;
      const where = { subtaskIndex: d.subtaskIndex, parallelism: this.vertex.parallelism, headNodeIndex: headNode.index };
      switch (spec.kind) {
        case 'sequence':
          core.source = new SplitReaderDriver(new NumberSequenceSource(spec.from, spec.to) as Source<unknown, SourceSplit>, core, where);
          break;
        case 'elements':
          core.source = new SplitReaderDriver(new ElementsSource(spec.values) as Source<unknown, SourceSplit>, core, where);
          break;
        case 'source':
          core.source = new SplitReaderDriver(spec.source, core, where);
          break;
        case 'source-function':
          core.source = new SourceFunctionDriver(chain.contexts[0]!.userFunction(spec.fn), core);
          break;
      }
    } else {
      const head = chain.head!;
      core.input = new NetworkInput(d.inputs, head, headNode.transformation.kind === 'two-input', core, this.#recordsIn);
      const restore = d.restore;
      if (restore?.channels !== undefined) {
        const reader = checkpointReaderFor(restore.root);
        try {
          core.input.replayFirst(await loadChannelState(restore.channels, this.vertex, d.inputs, (h) => reader.readStateFile(restore.root, h)));
        } catch (e) {
          throw tagError(
            new Error(`restoring the in-flight data of checkpoint ${restore.checkpointId} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
            chain.contexts[0]!,
          );
        }
      }
    }
    await chain.open();
    await core.source?.open();
  }

  /** Starts processing: input channels begin to be read, sources begin to emit. */
  start(): void {
    const core = this.#core;
    if (core.lifecycle.state !== 'INITIALIZING') return;
    core.lifecycle.to('RUNNING');
    core.input?.start();
    if (core.source !== undefined) core.source.start();
    else if (this.#d.inputs.length === 0) void this.#endInput();
    else core.mailbox.schedule();
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  /**
   * Asks a source task to take checkpoint `checkpointId` (what it is: `options`, which its
   * barrier carries downstream). False when this task cannot take part (it is not a running
   * source, or a stop is already under way).
   */
  triggerCheckpoint(checkpointId: CheckpointId, timestamp: number, options: CheckpointOptions): boolean {
    return this.#core.checkpoints.trigger(checkpointId, timestamp, options);
  }

  /** `final`: the job's final checkpoint, after which a task whose input ended ends. */
  notifyCheckpointComplete(checkpointId: CheckpointId, final: boolean): void {
    this.#core.checkpoints.notifyComplete(checkpointId, final);
  }

  notifyCheckpointAborted(checkpointId: CheckpointId): void {
    this.#core.checkpoints.notifyAborted(checkpointId);
  }

  // ---- end, failure, cancellation ------------------------------------------------------------

  /**
   * All input consumed: finish operators head to tail, then either end (signal the end
   * downstream, close) or, when the job takes a final checkpoint, signal end-of-data downstream,
   * report it, and stay for the checkpoints until the final one completed (then `#end`). When the
   * job stops with a savepoint (`stopped` for its sources; downstream, the last snapshot tells),
   * operators are closed without being finished, as in Flink: a stop is not the end of the input.
   */
  async #endInput(stopped = false): Promise<void> {
    const core = this.#core;
    const life = core.lifecycle;
    core.endingInput = true;
    try {
      await core.mailbox.whenResumed();
      core.mailbox.drain();
      const finish = !stopped && !core.checkpoints.endedByStop();
      if (!finish && !stopped) {
        // The input ended because the job stops with a savepoint: its completion may not have
        // been announced here yet, and the sinks commit what they prepared for it when it is.
        await core.checkpoints.stopAnnounced();
        await core.mailbox.whenResumed();
      }
      for (const op of finish ? core.chain.operators : []) {
        if (life.state !== 'RUNNING') return;
        try {
          await op.finish();
        } catch (e) {
          throw tagError(e, op.ctx);
        }
        await core.mailbox.whenResumed();
      }
      if (life.state !== 'RUNNING') return;
      if (finish && this.#finalCheckpoint) {
        core.checkpoints.dataEnded = true;
        for (const w of core.chain.writers) w.broadcastEvent(END_OF_DATA);
        this.#d.report({ type: 'data-ended', subtask: { vertex: this.vertex.index, subtask: this.subtaskIndex } });
        return;
      }
    } catch (e) {
      this.#fail(e);
      return;
    }
    await this.#end();
  }

  /** The task ends: end-of-partition downstream, everything closed, FINISHED reported. */
  async #end(): Promise<void> {
    const core = this.#core;
    const life = core.lifecycle;
    try {
      await core.mailbox.whenResumed();
      for (const op of core.checkpoints.dataEnded ? core.chain.operators : []) {
        if (life.state !== 'RUNNING') return;
        try {
          await op.beforeEnd();
        } catch (e) {
          throw tagError(e, op.ctx);
        }
        await core.mailbox.whenResumed();
      }
      if (life.state !== 'RUNNING') return;
      core.checkpoints.declinePendingTriggers('the task has finished');
      for (const w of core.chain.writers) w.broadcastEvent(END_OF_PARTITION);
      // Snapshots still being written read the state that closing releases.
      await core.checkpoints.whenPersisted();
      if (life.state !== 'RUNNING') return;
      await this.#closeAll();
      life.to('FINISHED');
      this.#d.report({ type: 'finished' });
    } catch (e) {
      this.#fail(e);
    }
  }

  async #closeAll(): Promise<void> {
    const core = this.#core;
    core.mailbox.cancelTimers();
    try {
      await core.source?.close();
      await core.chain.close();
    } finally {
      core.chain.disposeState();
    }
  }

  #fail(e: unknown): void {
    const core = this.#core;
    if (!core.lifecycle.to('FAILED')) return;
    core.checkpoints.abort.abort();
    const error = e instanceof Error ? e : new Error(String(e));
    core.source?.cancel();
    void this.#closeAll().catch(() => {});
    const head = core.chain.contexts[0];
    this.#d.report({ type: 'failed', error: error.name === 'OperatorError' || head === undefined ? error : tagError(error, head), task: this.name });
  }

  /** Stops the task: sources are cancelled, nothing more is processed. */
  async cancel(): Promise<void> {
    const core = this.#core;
    if (!core.lifecycle.to('CANCELED')) return;
    core.checkpoints.abort.abort();
    core.source?.cancel();
    await this.#closeAll().catch(() => {});
  }
}
