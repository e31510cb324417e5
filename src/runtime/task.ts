/**
 * One parallel subtask of a job vertex: a chain of operators fed either by a source or by
 * input channels, writing to output channels.
 *
 * Processing follows a mailbox discipline on the thread's event loop: `#run` is the default
 * action and processes input in bounded bursts; timers and other callbacks arrive as mails that
 * run between bursts, never in the middle of a record. A burst stops when any output channel
 * lacks credit (backpressure), when a sink asked the task to wait, or when its time slice is
 * spent, after which the task yields so I/O, other tasks and control messages (checkpoint
 * triggers among them) get their turn. The slice is measured in time, not records: a slow user
 * function must not delay a checkpoint by the length of a record-counted burst.
 */
import type { SourceContext, SourceFunction } from '../api/functions.ts';
import type { Configuration } from '../api/configuration.ts';
import type { InputStatus, ReaderOutput, Source, SourceReader, SourceSplit } from '../api/source.ts';
import type { CheckpointTriggerOptions } from '../checkpoint/checkpoint-coordinator.ts';
import type { CheckpointFailureReason, OperatorSubtaskState, StateFileHandle, SubtaskAcknowledgement } from '../checkpoint/checkpoint-types.ts';
import { readStateFile, writeSavepointStateFile, type FileSystemCheckpointStorage } from '../checkpoint/filesystem-checkpoint-storage.ts';
import type { JobVertex, StreamEdge, StreamNode } from '../graph/job-graph.ts';
import { keyGroupRangeForOperator } from '../core/key-group.ts';
import type { StateBackend, StateBackendScope } from '../state/state-backend.ts';
import type { InputChannel, OutputChannel } from './channel/channel.ts';
import { END_OF_PARTITION, type ChannelEvent, type RecordBatch } from './events.ts';
import { createOperator } from './operators/operator-factory.ts';
import { tagError, type OperatorContext, type StreamOperator } from './operators/operator.ts';
import { TimestampsAndWatermarksOperator } from './operators/watermark-operator.ts';
import { closeFunction, notifyFunction, openFunction, snapshotFunction } from './operators/udf.ts';
import { BarrierAligner, type AlignmentMode, type AlignmentStep } from './checkpoint/barrier-aligner.ts';
import {
  captureOperatorState,
  loadOperatorState,
  persistOperatorState,
  releaseCaptured,
  type CapturedOperatorState,
  type LoadedOperatorState,
} from './checkpoint/operator-snapshot.ts';
import type { TaskRestore } from './checkpoint/restore-assignment.ts';
import { faultHooks, type CheckpointFaultPoint } from './fault-injection.ts';
import { NodeOutput, type ChainTarget } from './node-output.ts';
import { Backpressure, createSelector, RecordWriter } from './record-writer.ts';
import { ElementsSource, NumberSequenceSource, type SequenceOutput } from './sources/builtin-sources.ts';
import type { Cancellable, Scheduler } from '../core/time.ts';
import { StatusWatermarkValve } from './watermark-valve.ts';

/** What a stopped source awaits: it never settles, so a cancelled or failed source's loop goes no further. */
const NEVER: Promise<void> = new Promise<void>(() => {});

/** How long a burst may run before the task yields to the event loop, ms. */
const SLICE_MS = 2;
/** Records (or reader polls) between two reads of the clock within a burst. */
const CLOCK_EVERY = 256;

export type TaskState = 'CREATED' | 'INITIALIZING' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'CANCELED';

/** What the task reports to and needs from the slot that hosts it. */
export interface TaskHost {
  print(line: string, stderr: boolean): void;
  /**
   * Records for an executeAndCollect() client. `epoch` is the id of the last checkpoint this
   * subtask had taken when they were produced (the restored one, or 0): after a restore from
   * checkpoint c, records of epoch >= c are replayed, so the client drops its copies of them.
   */
  collect(collectId: string, values: unknown[], epoch: number): void;
  taskFinished(task: Task): void;
  taskFailed(task: Task, error: Error): void;
  acknowledgeCheckpoint(task: Task, ack: SubtaskAcknowledgement): void;
  declineCheckpoint(task: Task, checkpointId: number, reason: CheckpointFailureReason, error: Error): void;
}

/**
 * How a task takes part in checkpoints and savepoints. Absent only for tasks run outside a job
 * (every deployed task can take a savepoint, with or without periodic checkpoints).
 */
export interface TaskCheckpointing {
  /** 'aligned' for exactly-once, 'counting' for at-least-once; savepoints are always aligned. */
  readonly mode: AlignmentMode;
  readonly storage: FileSystemCheckpointStorage;
}

/** An ordinary checkpoint: files go to the job's checkpoint storage. */
const PLAIN_CHECKPOINT: CheckpointTriggerOptions = Object.freeze({ isSavepoint: false });
/** Savepoint and stop options are forgotten once this many later checkpoints were announced. */
const ANNOUNCED_MEMORY = 1024;
/** How many of its latest snapshots a task remembers, to tell whether its input ended by a stop. */
const RECENT_SNAPSHOTS = 4;

export interface TaskDeployment {
  readonly jobId: string;
  readonly vertex: JobVertex;
  readonly subtaskIndex: number;
  readonly attemptNumber: number;
  readonly config: Configuration;
  readonly scheduler: Scheduler;
  /** Channels into the head, with the logical input (0 or 1) each belongs to. */
  readonly inputs: readonly { readonly channel: InputChannel; readonly input: 0 | 1 }[];
  /** Channels out of the chain, per network edge index, in the order the partitioner addresses them. */
  readonly outputs: ReadonlyMap<number, readonly OutputChannel[]>;
  readonly host: TaskHost;
  /** Whether user function objects must be copied for this subtask (they are shared with another subtask on this thread). */
  readonly copyFunctions: boolean;
  readonly checkpointing: TaskCheckpointing | undefined;
  /** State to start from; absent for a fresh start. */
  readonly restore: TaskRestore | undefined;
  /** Makes, writes and restores the state of this subtask's operators (resolved once per deployment). */
  readonly stateBackend: StateBackend;
}

/**
 * A per-subtask copy of a user function object: same prototype (methods), own fields copied
 * shallowly. Used only when several subtasks of one pipeline copy share a thread; #private
 * fields of user classes do not carry over, which docs/architecture.md states.
 */
function copyFunction<F extends object>(fn: F): F {
  if (typeof fn === 'function') return fn;
  return Object.assign(Object.create(Object.getPrototypeOf(fn) as object | null) as F, fn);
}

/** Source side of a task: pulls from a split reader or hosts a SourceFunction's own loop. */
type SourceDriver =
  | { readonly kind: 'reader'; readonly source: Source<unknown, SourceSplit>; reader: SourceReader<unknown, SourceSplit> | undefined }
  | { readonly kind: 'function'; readonly fn: SourceFunction<unknown> };

/**
 * Calls user hooks in order, each error tagged with its operator; returns the promises some of
 * them returned (rejecting with tagged errors), which the caller waits for.
 */
function callUserCode(calls: readonly (readonly [() => void | Promise<void>, OperatorContext])[]): Promise<void>[] {
  const pending: Promise<void>[] = [];
  for (const [call, ctx] of calls) {
    let r: void | Promise<void>;
    try {
      r = call();
    } catch (e) {
      throw tagError(e, ctx);
    }
    if (r !== undefined && typeof (r as PromiseLike<void>).then === 'function') {
      pending.push(Promise.resolve(r).catch((e: unknown) => Promise.reject(tagError(e, ctx))));
    }
  }
  return pending;
}

export class Task {
  readonly name: string;
  readonly vertex: JobVertex;
  readonly subtaskIndex: number;
  #state: TaskState = 'CREATED';
  readonly #d: TaskDeployment;
  readonly #backpressure = new Backpressure();
  readonly #writers: RecordWriter[] = [];
  readonly #operators: StreamOperator[] = [];
  readonly #contexts: OperatorContext[] = [];
  #head!: StreamOperator | undefined;
  #headOutput!: NodeOutput;
  #source: SourceDriver | undefined;
  #scheduled = false;
  #suspended = 0;
  readonly #mails: (() => void)[] = [];
  readonly #timers = new Set<Cancellable>();
  // input side
  readonly #inputs: { channel: InputChannel; input: 0 | 1; valveChannel: number; ended: boolean }[];
  #openInputs: number;
  #rr = 0;
  #current: { batch: RecordBatch; pos: number; channel: InputChannel; input: 0 | 1 } | undefined;
  #valves: StatusWatermarkValve[] = [];
  #readerOutput: ReaderOutput<unknown> | undefined;
  #endingInput = false;
  readonly #functionCopies = new Map<object, object>();
  // checkpointing
  /** Runtime operators of each stream node of the chain, by node index. */
  readonly #nodeOps = new Map<number, StreamOperator[]>();
  readonly #aligner: BarrierAligner | undefined;
  /** Id of the last checkpoint this subtask snapshotted (or restored); tags collected records. */
  #epoch: number;
  /** Checkpoints a source task accepted and has not yet snapshotted. */
  readonly #pendingTriggers = new Map<number, number>();
  /** A source function is paused inside collect(): its state may not yet reflect the record it emitted. */
  #pausedInCollect = false;
  readonly #abort = new AbortController();
  readonly #restored = new Map<number, LoadedOperatorState>();
  // savepoints and stop-with-savepoint
  /**
   * Every checkpoint up to this id has been announced to the task (by its slot, in id order),
   * so its kind is known. A barrier may overtake its announcement across threads.
   */
  #announcedUpTo = 0;
  /** Options of recently announced savepoints; ids up to #announcedUpTo not here are plain checkpoints. */
  readonly #announced = new Map<number, CheckpointTriggerOptions>();
  readonly #announceWaiters: { readonly id: number; readonly resolve: () => void }[] = [];
  /** The latest checkpoints and savepoints whose synchronous part ran here (newest last), and those of them aborted since. */
  readonly #recentSnapshots: number[] = [];
  readonly #abortedSnapshots = new Set<number>();
  /** A source that took part in this stopping savepoint emits nothing until it completes (the task ends) or fails (it resumes). */
  #stopPending: number | undefined;
  /** Continuations held back while a stop is pending; run if the savepoint fails. */
  #stopWaiters: (() => void)[] = [];

  constructor(deployment: TaskDeployment) {
    this.#d = deployment;
    this.vertex = deployment.vertex;
    this.subtaskIndex = deployment.subtaskIndex;
    this.name = `${this.vertex.name} (${this.subtaskIndex + 1}/${this.vertex.parallelism})`;
    const perInput = [0, 0];
    this.#inputs = deployment.inputs.map(({ channel, input }) => ({ channel, input, valveChannel: perInput[input]!++, ended: false }));
    this.#openInputs = this.#inputs.length;
    this.#epoch = deployment.restore?.checkpointId ?? 0;
    this.#aligner =
      deployment.checkpointing && this.#inputs.length > 0
        ? new BarrierAligner(this.#inputs.length, deployment.checkpointing.mode, () => deployment.scheduler.now())
        : undefined;
    this.#backpressure.onRelease = () => {
      this.#schedule();
      this.#resumeSource?.();
    };
  }

  get state(): TaskState {
    return this.#state;
  }

  // ---- set-up --------------------------------------------------------------------------------

  #mailboxScheduler(): Scheduler {
    const base = this.#d.scheduler;
    return {
      now: () => base.now(),
      schedule: (delayMs, callback) => {
        const handle = base.schedule(delayMs, () => {
          this.#timers.delete(handle);
          this.#enqueueMail(callback);
        });
        this.#timers.add(handle);
        return handle;
      },
    };
  }

  #backendScope(node: StreamNode): StateBackendScope {
    const d = this.#d;
    return { jobId: d.jobId, operatorId: node.operatorId, operatorName: node.name, subtaskIndex: d.subtaskIndex, parallelism: node.parallelism };
  }

  #context(node: StreamNode, scheduler: Scheduler): OperatorContext {
    const d = this.#d;
    const keyed = node.keySelectors.some((k) => k !== undefined);
    const task = this;
    const copies = this.#functionCopies;
    return {
      node,
      jobId: d.jobId,
      taskName: this.name,
      subtaskIndex: d.subtaskIndex,
      parallelism: node.parallelism,
      maxParallelism: node.maxParallelism,
      attemptNumber: d.attemptNumber,
      restored: d.restore !== undefined,
      config: d.config,
      scheduler,
      keyedBackend: keyed
        ? d.stateBackend.createKeyedStateBackend({
            ...this.#backendScope(node),
            maxParallelism: node.maxParallelism,
            keyGroupRange: keyGroupRangeForOperator(node.maxParallelism, node.parallelism, d.subtaskIndex),
          })
        : undefined,
      operatorStateBackend: d.stateBackend.createOperatorStateBackend(this.#backendScope(node)),
      suspendUntil: (p) => task.#suspendUntil(p),
      print: (line, stderr) => d.host.print(line, stderr),
      collect: (id, values) => d.host.collect(id, values, task.#epoch),
      userFunction: <F extends object>(fn: F): F => {
        if (!d.copyFunctions) return fn;
        let copy = copies.get(fn);
        if (!copy) copies.set(fn, (copy = copyFunction(fn)));
        return copy as F;
      },
    };
  }

  /** Builds the chain's operators and outputs, then opens them tail first (Flink's order). */
  async initialize(): Promise<void> {
    this.#state = 'INITIALIZING';
    const d = this.#d;
    const scheduler = this.#mailboxScheduler();
    const buffer = { records: d.config.get('weir.network.buffer-records'), bytes: d.config.get('weir.network.buffer-bytes') };
    const opOf = new Map<number, StreamOperator>();
    const nodes = this.vertex.nodes;
    const headNode = nodes[0]!;
    const writersOfEdge = new Map<number, RecordWriter>();
    for (const edge of this.vertex.outputs) {
      const channels = d.outputs.get(edge.index);
      if (!channels) throw new Error(`internal: no channels for edge ${edge.index} of ${this.name}`);
      const select = createSelector(
        edge.partitioner,
        channels.length,
        d.subtaskIndex,
        edge.target.parallelism,
        edge.target.maxParallelism,
        edge.target.name,
      );
      const w = new RecordWriter(channels, select, buffer, this.#backpressure);
      w.onError = (e) => this.#fail(e);
      writersOfEdge.set(edge.index, w);
      this.#writers.push(w);
    }

    for (const node of nodes) {
      const ctx = this.#context(node, scheduler);
      this.#contexts.push(ctx);
      await this.#restoreBackends(node, ctx);
      if (node.transformation.kind === 'source') continue;
      const op = createOperator(ctx);
      opOf.set(node.index, op);
      this.#nodeOps.set(node.index, [op]);
      this.#operators.push(op);
    }

    const inChain = new Set(nodes.map((n) => n.index));
    const outputOf = (node: StreamNode, edges: readonly StreamEdge[]): NodeOutput => {
      const targets: ChainTarget[] = [];
      const writers: RecordWriter[] = [];
      for (const e of edges) {
        const w = writersOfEdge.get(e.index);
        if (w) writers.push(w);
        else if (inChain.has(e.target.index)) targets.push({ op: opOf.get(e.target.index)!, input: e.targetInput });
      }
      return new NodeOutput(targets, writers, new Map());
    };
    const outputs: NodeOutput[] = [];
    const fullOutput = (node: StreamNode): NodeOutput => {
      const main = outputOf(node, node.outputs.filter((e) => e.sideOutputTag === undefined));
      const tags = new Set(node.outputs.map((e) => e.sideOutputTag).filter((t): t is string => t !== undefined));
      const side = new Map<string, NodeOutput>();
      for (const tag of tags) side.set(tag, outputOf(node, node.outputs.filter((e) => e.sideOutputTag === tag)));
      outputs.push(...side.values());
      const full = new NodeOutput(main.targets, main.writers, side);
      outputs.push(full);
      return full;
    };
    for (const node of nodes) {
      const op = opOf.get(node.index);
      if (op) op.output = fullOutput(node);
    }

    if (headNode.transformation.kind === 'source') {
      let headOutput = fullOutput(headNode);
      const spec = headNode.transformation.source;
      const wm = headNode.transformation.watermarkStrategy;
      if (wm) {
        // fromSource(source, strategy): timestamps and watermarks are produced inside the source task.
        const wmOp = new TimestampsAndWatermarksOperator(this.#contexts[0]!, wm);
        wmOp.output = headOutput;
        this.#operators.unshift(wmOp);
        this.#nodeOps.set(headNode.index, [wmOp]);
        headOutput = new NodeOutput([{ op: wmOp, input: 0 }], [], new Map());
        outputs.push(headOutput);
      }
      this.#headOutput = headOutput;
      this.#head = undefined;
      switch (spec.kind) {
        case 'sequence':
          this.#source = { kind: 'reader', source: new NumberSequenceSource(spec.from, spec.to) as Source<unknown, SourceSplit>, reader: undefined };
          break;
        case 'elements':
          this.#source = { kind: 'reader', source: new ElementsSource(spec.values) as Source<unknown, SourceSplit>, reader: undefined };
          break;
        case 'source':
          this.#source = { kind: 'reader', source: spec.source, reader: undefined };
          break;
        case 'source-function':
          this.#source = { kind: 'function', fn: this.#contexts[0]!.userFunction(spec.fn) };
          break;
      }
    } else {
      this.#head = opOf.get(headNode.index)!;
      this.#headOutput = this.#head.output as NodeOutput;
      const counts = [0, 0];
      for (const i of this.#inputs) counts[i.input]!++;
      const isTwoInput = headNode.transformation.kind === 'two-input';
      const head = this.#head;
      if (isTwoInput) {
        const combined = new StatusWatermarkValve(2, {
          emitWatermark: (w) => head.processWatermark(w),
          emitIdle: (idle) => head.processWatermarkStatus(idle),
        });
        this.#valves = [0, 1].map(
          (i) =>
            new StatusWatermarkValve(Math.max(1, counts[i]!), {
              emitWatermark: (w) => combined.inputWatermark(i, w),
              emitIdle: (idle) => combined.inputIdle(i, idle),
            }),
        );
      } else {
        this.#valves = [
          new StatusWatermarkValve(Math.max(1, counts[0]!), {
            emitWatermark: (w) => head.processWatermark(w),
            emitIdle: (idle) => head.processWatermarkStatus(idle),
          }),
        ];
      }
    }
    for (const o of outputs) o.fuse();

    // Open tail first so that every operator is ready before anything can emit into it.
    for (let i = this.#operators.length - 1; i >= 0; i--) {
      const op = this.#operators[i]!;
      try {
        await op.open();
      } catch (e) {
        throw tagError(e, op.ctx);
      }
    }
    for (const node of nodes) {
      const loaded = this.#restored.get(node.index);
      if (!loaded) continue;
      const timers = loaded.keyed?.timers ?? [];
      for (const op of this.#nodeOps.get(node.index) ?? []) {
        try {
          op.restoreExtras({ timers, watermark: loaded.watermark });
        } catch (e) {
          throw tagError(e, op.ctx);
        }
      }
    }
    const src = this.#source;
    if (src?.kind === 'function') await openFunction(src.fn, this.#contexts[0]!);
    if (src?.kind === 'reader') {
      const p = this.vertex.parallelism;
      const reader = src.source.createReader({ getIndexOfSubtask: () => d.subtaskIndex, getNumberOfParallelSubtasks: () => p });
      src.reader = reader;
      const restoredSplits = this.#restored.get(headNode.index)?.splits;
      // A restored source resumes its recorded splits; a source restored without any (e.g. a new
      // source in an old job) starts from the beginning.
      reader.addSplits(restoredSplits ?? src.source.createSplits(p).filter((_, i) => i % p === d.subtaskIndex));
      reader.notifyNoMoreSplits();
      // The head output's compiled collect maps a missing timestamp to -Infinity itself.
      const sequenceOutput: SequenceOutput = {
        collect: this.#headOutput.collect as ReaderOutput<unknown>['collect'],
        collectRange: this.#headOutput.collectRange,
      };
      this.#readerOutput = sequenceOutput as ReaderOutput<unknown>;
    }
  }

  /** Loads this node's part of the restored checkpoint into the backends of its context. */
  async #restoreBackends(node: StreamNode, ctx: OperatorContext): Promise<void> {
    const restore = this.#d.restore;
    const r = restore?.operators[node.operatorId];
    if (!restore || !r) return;
    let loaded: LoadedOperatorState;
    try {
      loaded = await loadOperatorState(r, (h) => readStateFile(restore.root, h), {
        stateBackend: this.#d.stateBackend,
        range: ctx.keyedBackend?.keyGroupRange,
        subtaskIndex: this.subtaskIndex,
        parallelism: node.parallelism,
      });
      if (loaded.keyed) ctx.keyedBackend!.restore(loaded.keyed.data);
      ctx.operatorStateBackend.restore(loaded.operatorState);
    } catch (e) {
      throw tagError(new Error(`restoring from checkpoint ${restore.checkpointId} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }), ctx);
    }
    this.#restored.set(node.index, loaded);
  }

  /** Starts processing: input channels begin to be read, sources begin to emit. */
  start(): void {
    if (this.#state !== 'INITIALIZING') return;
    this.#state = 'RUNNING';
    for (const i of this.#inputs) i.channel.onItem = () => this.#schedule();
    if (this.#source?.kind === 'function') this.#runSourceFunction(this.#source.fn);
    else if (this.#inputs.length === 0 && !this.#source) void this.#endInput();
    else this.#schedule();
  }

  // ---- mailbox -------------------------------------------------------------------------------

  #schedule(): void {
    if (this.#scheduled || this.#state !== 'RUNNING') return;
    this.#scheduled = true;
    setImmediate(this.#runBound);
  }
  readonly #runBound = (): void => this.#run();

  #enqueueMail(mail: () => void): void {
    this.#mails.push(mail);
    this.#schedule();
  }

  #suspendUntil(promise: PromiseLike<unknown>): void {
    this.#suspended++;
    promise.then(
      () => {
        this.#suspended--;
        this.#schedule();
        this.#resumeSource?.();
      },
      (e: unknown) => {
        this.#suspended--;
        this.#fail(e);
      },
    );
  }

  get #canProcess(): boolean {
    return this.#state === 'RUNNING' && this.#suspended === 0 && this.#backpressure.blocked === 0 && this.#stopPending === undefined;
  }

  #run(): void {
    this.#scheduled = false;
    if (this.#state !== 'RUNNING' || this.#suspended > 0) return;
    try {
      while (this.#mails.length > 0 && this.#suspended === 0 && this.#state === 'RUNNING') this.#mails.shift()!();
      if (this.#source?.kind === 'reader') this.#pollReader();
      else if (this.#source === undefined) this.#processInput();
    } catch (e) {
      this.#fail(e);
    }
  }

  #pollReader(): void {
    const reader = (this.#source as { reader: SourceReader<unknown, SourceSplit> }).reader;
    const out = this.#readerOutput!;
    const start = performance.now();
    let status: InputStatus = 'MORE_AVAILABLE';
    while (this.#canProcess && !this.#endingInput) {
      status = reader.pollNext(out);
      if (status !== 'MORE_AVAILABLE' || performance.now() - start >= SLICE_MS) break;
    }
    if (this.#endingInput) return;
    if (status === 'END_OF_INPUT') {
      this.#endingInput = true;
      this.#headOutput.emitWatermark(Infinity);
      void this.#endInput();
    } else if (status === 'NOTHING_AVAILABLE') {
      reader.isAvailable().then(() => this.#schedule(), (e: unknown) => this.#fail(e));
    } else if (this.#canProcess) {
      this.#schedule();
    }
  }

  #processInput(): void {
    const head = this.#head!;
    const start = performance.now();
    let budget = CLOCK_EVERY;
    while (this.#canProcess) {
      if (budget <= 0) {
        if (performance.now() - start >= SLICE_MS) break;
        budget = CLOCK_EVERY;
      }
      const cur = this.#current;
      if (cur) {
        const { values, timestamps, count } = cur.batch;
        let pos = cur.pos;
        const input = cur.input;
        while (pos < count && budget > 0) {
          const v = values[pos];
          const ts = timestamps === null ? -Infinity : timestamps[pos]!;
          pos++;
          budget--;
          try {
            head.processElement(v, ts, input);
          } catch (e) {
            throw tagError(e, head.ctx);
          }
          if (this.#suspended > 0 || this.#backpressure.blocked > 0) break;
        }
        cur.pos = pos;
        if (pos >= count) {
          this.#current = undefined;
          cur.channel.release();
        }
        continue;
      }
      if (!this.#pollChannel()) break;
    }
    if (this.#canProcess && (this.#current !== undefined || this.#inputs.some((i) => i.channel.hasItem))) this.#schedule();
  }

  /** Takes the next item from the input channels, round robin; false when none has one. */
  #pollChannel(): boolean {
    const inputs = this.#inputs;
    const n = inputs.length;
    const aligner = this.#aligner;
    for (let k = 0; k < n; k++) {
      const idx = (this.#rr + k) % n;
      const inp = inputs[idx]!;
      if (!inp.channel.hasItem || aligner?.isBlocked(idx)) continue;
      this.#rr = (idx + 1) % n;
      const item = inp.channel.poll()!;
      switch (item.kind) {
        case 'records':
          this.#current = { batch: item.batch, pos: 0, channel: inp.channel, input: inp.input };
          break;
        case 'watermark':
          this.#valves[inp.input]!.inputWatermark(inp.valveChannel, item.timestamp);
          break;
        case 'watermark-status':
          this.#valves[inp.input]!.inputIdle(inp.valveChannel, item.idle);
          break;
        case 'end-of-partition':
          inp.ended = true;
          if (aligner) this.#onAlignmentStep(aligner.onEndOfPartition(idx));
          if (--this.#openInputs === 0 && this.#state === 'RUNNING') void this.#endInput();
          break;
        case 'checkpoint-barrier':
          if (aligner) {
            const first = aligner.aligning !== item.checkpointId;
            const step = aligner.onBarrier(idx, item.checkpointId, item.timestamp, this.#mustAlign(item.checkpointId));
            if (first && n > 1 && aligner.aligning === item.checkpointId) faultHooks()?.alignmentStarted?.(this.#faultPoint(item.checkpointId));
            this.#onAlignmentStep(step);
          }
          break;
        case 'cancel-checkpoint-marker':
          if (aligner?.abort(item.checkpointId)) this.#schedule();
          break;
      }
      return true;
    }
    return false;
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  #faultPoint(checkpointId: number): CheckpointFaultPoint {
    return { taskName: this.name, vertexName: this.vertex.name, subtaskIndex: this.subtaskIndex, attemptNumber: this.#d.attemptNumber, checkpointId };
  }

  #onAlignmentStep(step: AlignmentStep): void {
    if (step.kind === 'none') return;
    const abandoned = step.kind === 'abandoned' ? step.checkpointId : step.abandoned;
    if (abandoned !== undefined) {
      this.#d.host.declineCheckpoint(this, abandoned, 'CHECKPOINT_SUBSUMED', new Error(`a barrier of a newer checkpoint reached ${this.name} first`));
    }
    if (step.kind === 'complete') {
      this.#performCheckpoint(step.checkpointId, step.timestamp, step.alignmentMs, Math.max(0, step.firstBarrierAt - step.timestamp));
      this.#schedule(); // channels blocked by the alignment are readable again
    }
  }

  /**
   * Tells the task what checkpoint `checkpointId` is: where its files go (a savepoint's
   * directory) and whether the job stops with it. The slot announces every triggered checkpoint
   * to every task, in id order; a barrier that arrives before its announcement is treated as a
   * possible savepoint (aligned) and its files wait for the announcement.
   */
  announceCheckpoint(checkpointId: number, options: CheckpointTriggerOptions): void {
    if (checkpointId <= this.#announcedUpTo) return;
    this.#announcedUpTo = checkpointId;
    if (options.isSavepoint) this.#announced.set(checkpointId, options);
    const waiters = this.#announceWaiters.splice(0);
    for (const w of waiters) {
      if (w.id <= checkpointId) w.resolve();
      else this.#announceWaiters.push(w);
    }
    for (const id of this.#announced.keys()) if (id < checkpointId - ANNOUNCED_MEMORY) this.#announced.delete(id);
    // At-least-once: an alignment begun before the announcement need not block after all.
    if (!options.isSavepoint && this.#aligner?.setAligned(checkpointId, false)) this.#schedule();
  }

  /** What checkpoint `checkpointId` is; undefined while it has not been announced. */
  #optionsOf(checkpointId: number): CheckpointTriggerOptions | undefined {
    if (checkpointId > this.#announcedUpTo) return undefined;
    return this.#announced.get(checkpointId) ?? PLAIN_CHECKPOINT;
  }

  #whenAnnounced(checkpointId: number): Promise<CheckpointTriggerOptions> {
    const known = this.#optionsOf(checkpointId);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve) => this.#announceWaiters.push({ id: checkpointId, resolve: () => resolve(this.#optionsOf(checkpointId)!) }));
  }

  /** Savepoints are aligned whatever the mode; so is a barrier whose checkpoint is not yet known. */
  #mustAlign(checkpointId: number): boolean {
    return this.#optionsOf(checkpointId)?.isSavepoint ?? true;
  }

  /**
   * Asks a source task to take checkpoint `checkpointId`: the snapshot happens between two
   * records (as a mail, or for a source function at its next collect()), then the barrier goes
   * downstream. False when this task cannot take part (it is not a running source, or a stop is
   * already under way).
   */
  triggerCheckpoint(checkpointId: number, timestamp: number, options: CheckpointTriggerOptions = PLAIN_CHECKPOINT): boolean {
    this.announceCheckpoint(checkpointId, options);
    if (this.#state !== 'RUNNING' || this.#source === undefined || this.#endingInput || !this.#d.checkpointing) return false;
    if (options.stop !== undefined && this.#stopPending !== undefined) return false;
    this.#pendingTriggers.set(checkpointId, timestamp);
    this.#enqueueMail(() => this.#runPendingTriggers());
    return true;
  }

  /** Runs accepted source triggers now, unless a source function is paused inside collect(). */
  #runPendingTriggers(): void {
    if (this.#pendingTriggers.size === 0 || this.#pausedInCollect || this.#state !== 'RUNNING' || this.#suspended > 0) return;
    if (this.#endingInput) {
      this.#declinePendingTriggers('the source has reached the end of its input');
      return;
    }
    const triggers = [...this.#pendingTriggers];
    this.#pendingTriggers.clear();
    for (const [id, ts] of triggers) this.#performCheckpoint(id, ts, 0, Math.max(0, this.#d.scheduler.now() - ts));
  }

  #declinePendingTriggers(why: string): void {
    for (const id of this.#pendingTriggers.keys()) this.#d.host.declineCheckpoint(this, id, 'NOT_ALL_REQUIRED_TASKS_RUNNING', new Error(`${this.name}: ${why}`));
    this.#pendingTriggers.clear();
  }

  /**
   * The synchronous part of a checkpoint: operators flush what belongs before the barrier, user
   * functions snapshot their state, every state is frozen (copy-on-write for keyed state), and
   * the barrier goes downstream. Serialising and writing then run asynchronously.
   */
  #performCheckpoint(checkpointId: number, timestamp: number, alignmentMs: number, startDelayMs: number): void {
    const scheduler = this.#d.scheduler;
    const t0 = scheduler.now();
    const ops = this.#operators;
    const src = this.#source;
    const stop = this.#optionsOf(checkpointId)?.stop;
    if (src !== undefined && stop !== undefined) {
      // Stop with a savepoint: nothing leaves this source after its barrier. With drain, event
      // time ends first, so event-time timers fire and windows flush into the savepoint.
      if (stop.drain) this.#headOutput.emitWatermark(Infinity);
      this.#stopPending = checkpointId;
    }
    this.#recentSnapshots.push(checkpointId);
    if (this.#recentSnapshots.length > RECENT_SNAPSHOTS) this.#abortedSnapshots.delete(this.#recentSnapshots.shift()!);
    callUserCode(ops.map((op) => [() => op.prepareSnapshotPreBarrier(checkpointId), op.ctx]));
    const userSnapshots: [() => void | Promise<void>, OperatorContext][] = ops.map((op) => [() => op.snapshotFunctionState(checkpointId, timestamp), op.ctx]);
    if (src?.kind === 'function') userSnapshots.unshift([() => snapshotFunction(src.fn, checkpointId, timestamp), this.#contexts[0]!]);
    const pending = callUserCode(userSnapshots);
    const finish = (): void => {
      const captured: CapturedOperatorState[] = [];
      try {
        for (let i = 0; i < this.vertex.nodes.length; i++) {
          const node = this.vertex.nodes[i]!;
          const ctx = this.#contexts[i]!;
          captured.push(
            captureOperatorState(
              {
                operatorId: node.operatorId,
                keyedBackend: ctx.keyedBackend,
                operatorStateBackend: ctx.operatorStateBackend,
                operators: this.#nodeOps.get(node.index) ?? [],
                reader: i === 0 && src?.kind === 'reader' ? src.reader : undefined,
              },
              checkpointId,
            ),
          );
        }
      } catch (e) {
        for (const c of captured) releaseCaptured(c);
        throw e;
      }
      const barrier: ChannelEvent = { kind: 'checkpoint-barrier', checkpointId, timestamp, unaligned: false };
      for (const w of this.#writers) w.broadcastEvent(barrier);
      if (checkpointId > this.#epoch) this.#epoch = checkpointId;
      const syncMs = scheduler.now() - t0;
      void this.#persist(checkpointId, captured, { syncMs, alignmentMs, startDelayMs });
    };
    if (pending.length === 0) {
      finish();
      return;
    }
    // An asynchronous snapshotState: nothing is processed until it settles.
    this.#suspended++;
    Promise.all(pending).then(
      () => {
        this.#suspended--;
        if (this.#state !== 'RUNNING') return;
        try {
          finish();
        } catch (e) {
          this.#fail(e);
          return;
        }
        this.#schedule();
        this.#resumeSource?.();
      },
      (e: unknown) => {
        this.#suspended--;
        this.#fail(e);
      },
    );
  }

  /** The asynchronous part: write every operator's state, then acknowledge (or decline on failure). */
  async #persist(checkpointId: number, captured: CapturedOperatorState[], m: { syncMs: number; alignmentMs: number; startDelayMs: number }): Promise<void> {
    const d = this.#d;
    const t0 = d.scheduler.now();
    let i = 0;
    try {
      await faultHooks()?.asyncSnapshot?.(this.#faultPoint(checkpointId));
      // A savepoint's files go into its own directory, so that it is self-contained.
      const target = (this.#optionsOf(checkpointId) ?? (await this.#whenAnnounced(checkpointId))).savepointDir;
      const storage = d.checkpointing!.storage;
      const writeFile =
        target === undefined
          ? (name: string, payload: Uint8Array): Promise<StateFileHandle> => storage.writeStateFile(checkpointId, name, payload)
          : (name: string, payload: Uint8Array): Promise<StateFileHandle> => writeSavepointStateFile(target, name, payload);
      const states: OperatorSubtaskState[] = [];
      let bytes = 0;
      for (; i < captured.length; i++) {
        const r = await persistOperatorState(captured[i]!, {
          writeFile,
          stateBackend: d.stateBackend,
          subtaskIndex: this.subtaskIndex,
          signal: this.#abort.signal,
        });
        if (r.state) states.push(r.state);
        bytes += r.bytes;
      }
      if (this.#abort.signal.aborted) return;
      d.host.acknowledgeCheckpoint(this, {
        subtask: { vertex: this.vertex.index, subtask: this.subtaskIndex },
        checkpointId,
        states,
        metrics: {
          syncDurationMs: m.syncMs,
          asyncDurationMs: d.scheduler.now() - t0,
          alignmentDurationMs: m.alignmentMs,
          startDelayMs: m.startDelayMs,
          bytesProcessedDuringAlignment: 0,
          stateSize: bytes,
        },
      });
    } catch (e) {
      for (; i < captured.length; i++) releaseCaptured(captured[i]!);
      if (this.#abort.signal.aborted) return;
      const cause = e instanceof Error ? e : new Error(String(e));
      d.host.declineCheckpoint(this, checkpointId, 'CHECKPOINT_DECLINED', new Error(`${this.name}: the asynchronous part of the snapshot failed: ${cause.message}`, { cause }));
    }
  }

  /**
   * The checkpoint completed (its metadata is durable): tell every operator and function. A
   * source stopping with this savepoint then ends.
   */
  notifyCheckpointComplete(checkpointId: number): void {
    this.#enqueueMail(() => {
      this.#notify(checkpointId, true);
      if (this.#stopPending === checkpointId) this.#endStopped();
    });
  }

  /**
   * The checkpoint was aborted: stop aligning on it and tell every operator and function. A
   * source stopping with this savepoint resumes: the job goes on.
   */
  notifyCheckpointAborted(checkpointId: number): void {
    if (this.#aligner?.abort(checkpointId)) this.#schedule();
    this.#pendingTriggers.delete(checkpointId);
    if (this.#recentSnapshots.includes(checkpointId)) this.#abortedSnapshots.add(checkpointId);
    if (this.#stopPending === checkpointId) {
      this.#stopPending = undefined;
      for (const resume of this.#stopWaiters.splice(0)) resume();
      this.#schedule();
      this.#resumeSource?.();
    }
    this.#enqueueMail(() => this.#notify(checkpointId, false));
  }

  /** Resolves when a pending stop is called off; never when the stop goes through (the task ends). */
  #stopCalledOff(): Promise<void> {
    return new Promise((resolve) => this.#stopWaiters.push(resolve));
  }

  /** The stopping savepoint completed: the source ends without the end-of-input watermark. */
  #endStopped(): void {
    this.#stopWaiters = [];
    this.#stopSource();
    void this.#endInput(true);
  }

  /**
   * Whether the input ended because the job stops with a savepoint this task took part in (one
   * that was not aborted; a checkpoint triggered by hand may have followed it).
   */
  async #endedByStop(): Promise<boolean> {
    for (const id of [...this.#recentSnapshots].reverse()) {
      const options = this.#optionsOf(id) ?? (await this.#whenAnnounced(id));
      if (options.stop !== undefined && !this.#abortedSnapshots.has(id)) return true;
    }
    return false;
  }

  #notify(checkpointId: number, completed: boolean): void {
    const calls: [() => void | Promise<void>, OperatorContext][] = this.#operators.map((op) => [
      () => (completed ? op.notifyCheckpointComplete(checkpointId) : op.notifyCheckpointAborted(checkpointId)),
      op.ctx,
    ]);
    const src = this.#source;
    if (src?.kind === 'function') calls.push([() => notifyFunction(src.fn, checkpointId, completed), this.#contexts[0]!]);
    if (src?.kind === 'reader' && src.reader) {
      const reader = src.reader;
      calls.push([() => (completed ? reader.notifyCheckpointComplete?.(checkpointId) : reader.notifyCheckpointAborted?.(checkpointId)), this.#contexts[0]!]);
    }
    for (const p of callUserCode(calls)) this.#suspendUntil(p);
  }

  // ---- source functions ----------------------------------------------------------------------

  #resumeSource: (() => void) | undefined;

  #runSourceFunction(fn: SourceFunction<unknown>): void {
    const out = this.#headOutput;
    let sinceClock = 0;
    let sliceStart = performance.now();
    const pause = (): Promise<void> | undefined => {
      if (this.#state !== 'RUNNING') return NEVER;
      if (this.#canProcess && (++sinceClock < CLOCK_EVERY || performance.now() - sliceStart < SLICE_MS)) {
        if (sinceClock >= CLOCK_EVERY) sinceClock = 0;
        return undefined;
      }
      sinceClock = 0;
      this.#pausedInCollect = true;
      return new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.#state !== 'RUNNING') return;
          if (this.#canProcess) {
            this.#resumeSource = undefined;
            this.#pausedInCollect = false;
            sliceStart = performance.now();
            resolve();
            // The function's code after collect() runs in microtasks before this, so its state
            // has caught up with the records it emitted: a deferred checkpoint may run now.
            if (this.#pendingTriggers.size > 0) setImmediate(runDeferred);
          } else this.#resumeSource = () => setImmediate(check);
        };
        setImmediate(check);
      });
    };
    const runDeferred = (): void => {
      try {
        this.#runPendingTriggers();
      } catch (e) {
        this.#fail(e);
      }
    };
    // Records take this path once each: no closure or promise is created unless the source must pause.
    const emitRecord = (value: unknown, timestamp: number): void | Promise<void> => {
      if (this.#state !== 'RUNNING') return NEVER;
      if (this.#pendingTriggers.size > 0) {
        // A checkpoint is due: it is taken before this record, so the function's state must
        // describe exactly the records emitted before this call (update it after collect()).
        runDeferred();
        if (this.#state !== 'RUNNING') return NEVER;
        if (this.#suspended > 0) return this.#waitUntilResumed().then(() => emitRecord(value, timestamp));
      }
      // After its stopping barrier, the record waits: dropped if the savepoint completes, emitted if it fails.
      if (this.#stopPending !== undefined) return this.#stopCalledOff().then(() => emitRecord(value, timestamp));
      try {
        out.collect(value, timestamp);
      } catch (e) {
        this.#fail(e);
        return NEVER;
      }
      return pause();
    };
    const control = (emit: () => void): void => {
      if (this.#state !== 'RUNNING' || this.#stopPending !== undefined) return;
      try {
        emit();
      } catch (e) {
        this.#fail(e);
      }
    };
    const ctx: SourceContext<unknown> = {
      collect: (value) => emitRecord(value, -Infinity),
      collectWithTimestamp: (value, timestamp) => emitRecord(value, timestamp),
      emitWatermark: (watermark) => control(() => out.emitWatermark(watermark)),
      markAsTemporarilyIdle: () => control(() => out.emitWatermarkStatus(true)),
    };
    let result: void | Promise<void>;
    try {
      result = fn.run(ctx);
    } catch (e) {
      this.#fail(e);
      return;
    }
    const end = (): void => {
      if (this.#state !== 'RUNNING' || this.#endingInput) return;
      try {
        out.emitWatermark(Infinity);
      } catch (e) {
        this.#fail(e);
        return;
      }
      void this.#endInput();
    };
    Promise.resolve(result).then(
      () => {
        // A function that returns while a stop is pending ends normally only if the stop fails.
        if (this.#stopPending !== undefined) void this.#stopCalledOff().then(end);
        else end();
      },
      (e: unknown) => this.#fail(e),
    );
  }

  // ---- end, failure, cancellation ------------------------------------------------------------

  async #waitUntilResumed(): Promise<void> {
    while (this.#suspended > 0 && this.#state === 'RUNNING') await new Promise((r) => setImmediate(r));
  }

  /**
   * All input consumed: finish operators head to tail, signal end downstream, close. When the
   * job stops with a savepoint (`stopped` for its sources; downstream, the last snapshot tells),
   * operators are closed without being finished, as in Flink: a stop is not the end of the input.
   */
  async #endInput(stopped = false): Promise<void> {
    this.#endingInput = true;
    try {
      await this.#waitUntilResumed();
      while (this.#mails.length > 0 && this.#state === 'RUNNING') this.#mails.shift()!();
      const finish = !stopped && !(await this.#endedByStop());
      for (const op of finish ? this.#operators : []) {
        if (this.#state !== 'RUNNING') return;
        try {
          await op.finish();
        } catch (e) {
          throw tagError(e, op.ctx);
        }
        await this.#waitUntilResumed();
      }
      if (this.#state !== 'RUNNING') return;
      this.#declinePendingTriggers('the task has finished');
      for (const w of this.#writers) w.broadcastEvent(END_OF_PARTITION);
      await this.#closeAll();
      this.#state = 'FINISHED';
      this.#d.host.taskFinished(this);
    } catch (e) {
      this.#fail(e);
    }
  }

  async #closeAll(): Promise<void> {
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    const src = this.#source;
    if (src?.kind === 'function') await closeFunction(src.fn);
    if (src?.kind === 'reader') await src.reader?.close?.();
    for (const op of this.#operators) {
      try {
        await op.close();
      } catch (e) {
        throw tagError(e, op.ctx);
      }
    }
  }

  #fail(e: unknown): void {
    if (this.#state === 'FAILED' || this.#state === 'CANCELED' || this.#state === 'FINISHED') return;
    this.#state = 'FAILED';
    this.#abort.abort();
    const error = e instanceof Error ? e : new Error(String(e));
    this.#stopSource();
    void this.#closeAll().catch(() => {});
    this.#d.host.taskFailed(this, error.name === 'OperatorError' ? error : tagError(error, this.#contexts[0]!));
  }

  #stopSource(): void {
    const src = this.#source;
    if (src?.kind === 'function') {
      try {
        src.fn.cancel();
      } catch {
        // cancellation is best effort: the task is going away either way
      }
    }
  }

  /** Stops the task: sources are cancelled, nothing more is processed. */
  async cancel(): Promise<void> {
    if (this.#state === 'FINISHED' || this.#state === 'FAILED' || this.#state === 'CANCELED') return;
    this.#state = 'CANCELED';
    this.#abort.abort();
    this.#stopSource();
    await this.#closeAll().catch(() => {});
  }
}
