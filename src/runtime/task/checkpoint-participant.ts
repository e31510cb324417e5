/**
 * How a task takes part in checkpoints: a source task takes a snapshot when triggered, a task
 * with inputs when its barrier handler says every input delivered the barrier; then the
 * synchronous part (operators flush what belongs before the barrier, user functions snapshot,
 * every state is frozen, the barrier goes downstream) and the asynchronous part (state written,
 * then acknowledged, or declined). Stop-with-savepoint: a source holds back everything after its
 * stopping barrier until the savepoint completes (the task ends) or is aborted (it resumes).
 *
 * What a checkpoint is (savepoint directory, stop, alignment) comes with it: in the trigger for
 * sources, on the barrier for every other task, and the barrier passes it on downstream.
 *
 * Unaligned: the task snapshots when the checkpoint goes unaligned here (its first barrier, or
 * the aligned timeout), sends its barriers downstream ahead of queued data, and acknowledges
 * once its operator state is written and its channel state (`ChannelStateRecorder`) is complete
 * and written too.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { CheckpointOptions } from '../../checkpoint/checkpoint-options.ts';
import type { CheckpointFailureReason, OperatorSubtaskState } from '../../checkpoint/checkpoint-types.ts';
import { BarrierHandler, type AlignmentStep } from '../checkpoint/barrier-handler/barrier-handler.ts';
import { captureOperatorState, persistOperatorState, releaseCaptured, type CapturedOperatorState } from '../checkpoint/operator-snapshot.ts';
import type { CheckpointBarrier } from '../events.ts';
import { faultHooks, type CheckpointFaultPoint } from '../fault-injection.ts';
import { tagError, type OperatorContext } from '../operators/operator.ts';
import type { OperatorChain } from './operator-chain.ts';
import type { SourceDriver } from './source-driver.ts';
import type { TaskDeployment } from './task-deployment.ts';
import type { TaskLifecycle } from './task-lifecycle.ts';
import type { TaskMailbox } from './task-mailbox.ts';
import type { TimeShare } from '../metrics/task-time-share.ts';
import type { StateFileSink } from '../../state/state-backend.ts';
import type { Scheduler } from '../../core/time.ts';
import type { RecordBatch } from '../events.ts';
import { ChannelStateRecorder } from '../checkpoint/channel-state-recorder.ts';
import { channelEdgeKeys, writeChannelState, type ChannelIdentity } from '../checkpoint/channel-state.ts';

/** How many of its latest snapshots a task remembers, to tell whether its input ended by a stop. */
const RECENT_SNAPSHOTS = 4;

/** What checkpointing needs from the task around it. */
export interface CheckpointHost {
  readonly name: string;
  readonly lifecycle: TaskLifecycle;
  readonly mailbox: TaskMailbox;
  readonly chain: OperatorChain;
  readonly source: SourceDriver | undefined;
  /** The task's input is ending (end of input reached): a source takes no more checkpoints. */
  readonly endingInput: boolean;
  fail(error: unknown): void;
  /** The stopping savepoint completed: the source ends without the end-of-input watermark. */
  endStopped(): void;
  /** The job's final checkpoint completed (and this task was told): the task ends. */
  endFinal(): void;
  /** How the task spends its time now (busy and back-pressured ms per second), for the checkpoint statistics. */
  timeShare(): TimeShare;
  /** The unprocessed rest of the input batch being processed, if any (an unaligned snapshot stores it). */
  currentRemainder(): { readonly channel: number; readonly batch: RecordBatch; readonly from: number } | undefined;
}

/**
 * Calls user hooks in order, each error tagged with its operator; returns the promises some of
 * them returned (rejecting with tagged errors), which the caller waits for.
 */
export function callUserCode(calls: readonly (readonly [() => void | Promise<void>, OperatorContext])[]): Promise<void>[] {
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

export class CheckpointParticipant {
  /** Checkpoints a source task accepted and has not yet snapshotted, with their trigger time and options. */
  readonly pendingTriggers = new Map<CheckpointId, { readonly timestamp: number; readonly options: CheckpointOptions }>();
  /** A source that took part in this stopping savepoint emits nothing until it completes (the task ends) or fails (it resumes). */
  stopPending: number | undefined;
  /** Decides when a barrier arrived on every input; undefined for a source task or outside a job. */
  readonly barriers: BarrierHandler | undefined;
  /** Aborted when the task fails or is cancelled: asynchronous parts still running give up. */
  readonly abort = new AbortController();
  /** Alignment time of the latest checkpoint this task took, ms (the checkpointAlignmentTime metric). */
  lastAlignmentMs = 0;
  /** From the latest checkpoint's trigger to its first barrier here, ms (checkpointStartDelayNanos). */
  lastStartDelayMs = 0;
  /**
   * The task's input ended and its operators finished, and the job takes a final checkpoint:
   * the task stays to take part in checkpoints (a source task is triggered as before; its reader
   * reports no unfinished splits) until the final one completes.
   */
  dataEnded = false;
  readonly #host: CheckpointHost;
  readonly #d: TaskDeployment;
  /** Id of the last checkpoint this subtask snapshotted (or restored); tags collected records. */
  #epoch: number;
  /** Continuations held back while a stop is pending; run if the savepoint fails. */
  #stopWaiters: (() => void)[] = [];
  /** The latest checkpoints and savepoints whose synchronous part ran here (newest last), and those of them aborted since. */
  readonly #recentSnapshots: { readonly id: number; readonly options: CheckpointOptions }[] = [];
  readonly #abortedSnapshots = new Set<number>();
  /** Stopping savepoints whose completion was announced here, and who waits for the next such announcement. */
  readonly #announcedStops = new Set<number>();
  #stopAnnouncementWaiters: (() => void)[] = [];
  /** The channel state of the unaligned checkpoint being stored, if one is (at most one at a time). */
  #recording: ChannelStateRecorder | undefined;
  /** Which channel each input is, for the channel state's metadata. */
  readonly #identities: readonly ChannelIdentity[];
  /** Timers that run as mails of this task. */
  readonly #timers: Scheduler;
  /** The checkpoint whose aligned-checkpoint timeout is armed here, if any (one at a time suffices: newer ones subsume older). */
  #armedTimeout: CheckpointId | undefined;
  /** Asynchronous parts still writing (#persist never rejects: it acknowledges or declines). */
  readonly #persisting = new Set<Promise<void>>();

  constructor(host: CheckpointHost, d: TaskDeployment) {
    this.#host = host;
    this.#d = d;
    this.#epoch = d.restore?.checkpointId ?? 0;
    this.#timers = host.mailbox.scheduler(d.scheduler);
    this.barriers =
      d.checkpointing && d.inputs.length > 0 ? new BarrierHandler(d.inputs.length, () => d.scheduler.now(), (id, at) => this.#armAlignmentTimeout(id, at)) : undefined;
    const keys = channelEdgeKeys(d.vertex);
    this.#identities = d.inputs.map((i) => {
      const edge = d.vertex.inputs.find((e) => e.index === i.edge);
      return {
        edge: keys.get(i.edge) ?? `edge ${i.edge}`,
        partitioner: edge?.partitioner.kind ?? 'forward',
        producer: i.producer,
        producers: edge?.source.parallelism ?? 1,
      };
    });
  }

  get epoch(): number {
    return this.#epoch;
  }

  faultPoint(checkpointId: CheckpointId): CheckpointFaultPoint {
    const d = this.#d;
    return { taskName: this.#host.name, vertexName: d.vertex.name, subtaskIndex: d.subtaskIndex, attemptNumber: d.attemptNumber, checkpointId };
  }

  #decline(checkpointId: CheckpointId, reason: CheckpointFailureReason, error: Error): void {
    const d = this.#d;
    d.report({ type: 'decline', checkpointId, subtask: { vertex: d.vertex.index, subtask: d.subtaskIndex }, reason, error });
  }

  // ---- barriers (tasks with inputs) ------------------------------------------------------------

  /**
   * A barrier arrived on input channel `channel` (only with a barrier handler); `priority` when it
   * overtook the channel's data (what it overtook reaches the checkpoint through the channel's tap).
   */
  onBarrier(channel: number, barrier: CheckpointBarrier, numChannels: number, priority = false): void {
    const handler = this.barriers!;
    const first = handler.aligning !== barrier.checkpointId;
    const step = handler.onBarrier(channel, barrier, priority);
    if (first && numChannels > 1 && handler.aligning === barrier.checkpointId) faultHooks()?.alignmentStarted?.(this.faultPoint(barrier.checkpointId));
    this.#onAlignmentStep(step);
  }

  /**
   * An in-band barrier with an aligned-checkpoint timeout was queued on an input channel: the
   * timeout runs from now on even if this task has not reached any of the checkpoint's barriers.
   */
  onBarrierQueued(barrier: CheckpointBarrier): void {
    const timeout = barrier.options.alignedTimeoutMs;
    if (timeout !== undefined) this.#armAlignmentTimeout(barrier.checkpointId, barrier.timestamp + timeout);
  }

  /**
   * At `at`, checkpoint `checkpointId` goes unaligned here if its alignment has not ended: a
   * handler still collecting its barriers switches, and in-band barriers of it still queued on the
   * input channels are taken out of order (which starts it unaligned if none had been reached).
   */
  #armAlignmentTimeout(checkpointId: CheckpointId, at: number): void {
    if (this.#armedTimeout !== undefined && this.#armedTimeout >= checkpointId) return;
    this.#armedTimeout = checkpointId;
    this.#timers.schedule(at - this.#d.scheduler.now(), () => {
      if (this.#armedTimeout === checkpointId) this.#armedTimeout = undefined;
      const handler = this.barriers;
      if (handler === undefined || !this.#host.lifecycle.running) return;
      this.#onAlignmentStep(handler.onAlignmentTimeout(checkpointId));
      if (handler.aligning === undefined && handler.finishedUpTo < checkpointId) {
        for (const i of this.#d.inputs) i.channel.prioritize(checkpointId);
      }
    });
  }

  onEndOfPartition(channel: number): void {
    const handler = this.barriers;
    if (handler) this.#onAlignmentStep(handler.onEndOfPartition(channel));
    this.#recording?.channelEnded(channel);
  }

  /** A cancel-checkpoint marker arrived. */
  onCancelMarker(checkpointId: CheckpointId): void {
    this.#cancelRecording(checkpointId, new Error(`checkpoint ${checkpointId} was cancelled upstream`));
    if (this.barriers?.abort(checkpointId)) this.#host.mailbox.schedule();
  }

  #onAlignmentStep(step: AlignmentStep): void {
    if (step.kind === 'none') return;
    const abandoned = step.kind === 'abandoned' ? step.checkpointId : step.abandoned;
    if (abandoned !== undefined) {
      const why = new Error(`a barrier of a newer checkpoint reached ${this.#host.name} first`);
      this.#cancelRecording(abandoned, why);
      this.#decline(abandoned, 'CHECKPOINT_SUBSUMED', why);
    }
    if (step.kind === 'complete') {
      this.#performCheckpoint(step.checkpointId, step.timestamp, step.options, step.alignmentMs, Math.max(0, step.firstBarrierAt - step.timestamp));
      this.#host.mailbox.schedule(); // channels blocked by the alignment are readable again
    } else if (step.kind === 'unaligned') {
      const recorder = this.#startRecording(step.checkpointId, step.delivered);
      this.#performCheckpoint(step.checkpointId, step.timestamp, step.options, step.alignmentMs, Math.max(0, step.firstBarrierAt - step.timestamp), recorder);
      this.#host.mailbox.schedule(); // channels blocked before the switch are readable again
    }
  }

  /**
   * Starts storing the channel state of `checkpointId`, which goes unaligned now: the rest of the
   * batch being processed, then what each channel not `delivered` (nor ended) holds or still
   * brings before its barrier, handed over by the channel as soon as it is there. In-band
   * barriers of this checkpoint already queued are taken out of order, so what is stored stops
   * there.
   */
  #startRecording(checkpointId: CheckpointId, delivered: readonly boolean[]): ChannelStateRecorder {
    const handler = this.barriers!;
    const older = this.#recording;
    if (older !== undefined) {
      this.#giveUpRecording(older, new Error(`${this.#host.name}: checkpoint ${checkpointId} started before the channel state of checkpoint ${older.checkpointId} was complete`));
    }
    const settled = delivered.map((d, c) => d || handler.isEnded(c));
    const recorder = new ChannelStateRecorder(checkpointId, settled);
    this.#recording = recorder;
    const rest = this.#host.currentRemainder();
    if (rest !== undefined) recorder.recordRemainder(rest.channel, rest.batch.values, rest.batch.timestamps, rest.from, rest.batch.count);
    settled.forEach((s, c) => {
      const channel = this.#d.inputs[c]?.channel;
      if (s || channel === undefined) return;
      channel.prioritize(checkpointId);
      channel.tap(
        checkpointId,
        (item) => recorder.store(c, item),
        () => recorder.channelDone(c),
      );
    });
    const forget = (): void => {
      if (this.#recording === recorder) this.#recording = undefined;
    };
    void recorder.done.then(forget, forget);
    return recorder;
  }

  /** Gives up the channel state of checkpoints up to `checkpointId` (abandoned or aborted here). */
  #cancelRecording(checkpointId: CheckpointId, why: Error): void {
    const rec = this.#recording;
    if (rec !== undefined && rec.checkpointId <= checkpointId) this.#giveUpRecording(rec, why);
  }

  /** Stops storing `rec`'s channel state: the channels stop handing items over and what was kept is released. */
  #giveUpRecording(rec: ChannelStateRecorder, why: Error): void {
    if (this.#recording === rec) this.#recording = undefined;
    for (const i of this.#d.inputs) i.channel.untap(rec.checkpointId);
    rec.cancel(why);
  }

  // ---- triggers (source tasks) -----------------------------------------------------------------

  /**
   * Asks a source task to take checkpoint `checkpointId`: the snapshot happens between two
   * records (as a mail, or for a source function at its next collect()), then the barrier goes
   * downstream with `options`. False when this task cannot take part (it is not a running
   * source, or a stop is already under way).
   */
  trigger(checkpointId: CheckpointId, timestamp: number, options: CheckpointOptions): boolean {
    const host = this.#host;
    if (!host.lifecycle.running || host.source === undefined || (host.endingInput && !this.dataEnded) || !this.#d.checkpointing) return false;
    if (options.stop !== undefined && this.stopPending !== undefined) return false;
    this.pendingTriggers.set(checkpointId, { timestamp, options });
    host.mailbox.enqueue(() => this.runPendingTriggers());
    return true;
  }

  /** Runs accepted source triggers now, unless a source function is paused inside collect(). */
  runPendingTriggers(): void {
    const host = this.#host;
    if (this.pendingTriggers.size === 0 || host.source?.pausedInEmit || !host.lifecycle.running || host.mailbox.suspended > 0) return;
    if (host.endingInput && !this.dataEnded) {
      this.declinePendingTriggers('the source is finishing at the end of its input');
      return;
    }
    const triggers = [...this.pendingTriggers];
    this.pendingTriggers.clear();
    for (const [id, t] of triggers) this.#performCheckpoint(id, t.timestamp, t.options, 0, Math.max(0, this.#d.scheduler.now() - t.timestamp));
  }

  declinePendingTriggers(why: string): void {
    for (const id of this.pendingTriggers.keys()) this.#decline(id, 'NOT_ALL_REQUIRED_TASKS_RUNNING', new Error(`${this.#host.name}: ${why}`));
    this.pendingTriggers.clear();
  }

  // ---- the snapshot ------------------------------------------------------------------------------

  /**
   * The synchronous part of a checkpoint: operators flush what belongs before the barrier, user
   * functions snapshot their state, every state is frozen (copy-on-write for keyed state), and
   * the barrier goes downstream. Serialising and writing then run asynchronously.
   */
  #performCheckpoint(
    checkpointId: CheckpointId,
    timestamp: number,
    options: CheckpointOptions,
    alignmentMs: number,
    startDelayMs: number,
    recorder?: ChannelStateRecorder,
  ): void {
    const host = this.#host;
    const chain = host.chain;
    const scheduler = this.#d.scheduler;
    const t0 = scheduler.now();
    this.lastAlignmentMs = alignmentMs;
    this.lastStartDelayMs = startDelayMs;
    const ops = chain.operators;
    const src = host.source;
    faultHooks()?.syncSnapshot?.(this.faultPoint(checkpointId));
    if (src !== undefined && options.stop !== undefined) {
      // Stop with a savepoint: nothing leaves this source after its barrier. With drain, event
      // time ends first, so event-time timers fire and windows flush into the savepoint.
      if (options.stop.drain) chain.headOutput.emitWatermark(Infinity);
      this.stopPending = checkpointId;
    }
    this.#recentSnapshots.push({ id: checkpointId, options });
    if (this.#recentSnapshots.length > RECENT_SNAPSHOTS) this.#abortedSnapshots.delete(this.#recentSnapshots.shift()!.id);
    callUserCode(ops.map((op) => [() => op.prepareSnapshotPreBarrier(checkpointId), op.ctx]));
    const userSnapshots: [() => void | Promise<void>, OperatorContext][] = ops.map((op) => [() => op.snapshotFunctionState(checkpointId, timestamp), op.ctx]);
    if (src !== undefined) userSnapshots.unshift([() => src.snapshotState(checkpointId, timestamp), chain.contexts[0]!]);
    const pending = callUserCode(userSnapshots);
    const finish = (): void => {
      const captured: CapturedOperatorState[] = [];
      const nodes = chain.vertex.nodes;
      try {
        for (let i = 0; i < nodes.length; i++) {
          const node = nodes[i]!;
          const ctx = chain.contexts[i]!;
          captured.push(
            captureOperatorState(
              {
                operatorId: node.operatorId,
                keyedBackend: ctx.keyedBackend,
                operatorStateBackend: ctx.operatorStateBackend,
                operators: chain.nodeOps.get(node.index) ?? [],
                reader: i === 0 ? src?.reader : undefined,
              },
              checkpointId,
            ),
          );
        }
      } catch (e) {
        for (const c of captured) releaseCaptured(c);
        throw e;
      }
      const barrier: CheckpointBarrier = { kind: 'checkpoint-barrier', checkpointId, timestamp, options };
      // Unaligned here (or from the start): downstream is unaligned too, and the barrier overtakes what waits for credit.
      if (recorder !== undefined || options.alignment === 'unaligned') for (const w of chain.writers) w.broadcastPriorityBarrier(barrier);
      else {
        for (const w of chain.writers) w.broadcastEvent(barrier);
        // A barrier still waiting for credit when its aligned timeout passes leaves as a priority barrier.
        const timeout = options.alignedTimeoutMs;
        if (timeout !== undefined && chain.writers.length > 0) {
          this.#timers.schedule(timestamp + timeout - scheduler.now(), () => {
            for (const w of chain.writers) w.prioritizeQueuedBarrier(checkpointId);
          });
        }
      }
      if (checkpointId > this.#epoch) this.#epoch = checkpointId;
      const syncMs = scheduler.now() - t0;
      const share = host.timeShare();
      const persisting = this.#persist(checkpointId, options, captured, { syncMs, alignmentMs, startDelayMs, busy: share.busy, backPressured: share.backPressured }, recorder);
      this.#persisting.add(persisting);
      void persisting.finally(() => this.#persisting.delete(persisting));
    };
    if (pending.length === 0) {
      finish();
      return;
    }
    // An asynchronous snapshotState: nothing is processed until it settles.
    const mailbox = host.mailbox;
    mailbox.suspended++;
    Promise.all(pending).then(
      () => {
        mailbox.suspended--;
        if (!host.lifecycle.running) return;
        try {
          finish();
        } catch (e) {
          host.fail(e);
          return;
        }
        mailbox.schedule();
        host.source?.resume();
      },
      (e: unknown) => {
        mailbox.suspended--;
        host.fail(e);
      },
    );
  }

  /**
   * Settles once every asynchronous part started so far has acknowledged or declined. A task that
   * ends waits for this before it releases its state backends: a RocksDB snapshot still being
   * written reads the instance that disposal closes (Flink's task waits for its pending
   * checkpoints before it closes, for the same reason).
   */
  async whenPersisted(): Promise<void> {
    while (this.#persisting.size > 0) await Promise.allSettled([...this.#persisting]);
  }

  /** The asynchronous part: write every operator's state, then acknowledge (or decline on failure). */
  async #persist(
    checkpointId: CheckpointId,
    options: CheckpointOptions,
    captured: CapturedOperatorState[],
    m: { syncMs: number; alignmentMs: number; startDelayMs: number; busy: number; backPressured: number },
    recorder: ChannelStateRecorder | undefined,
  ): Promise<void> {
    const d = this.#d;
    const t0 = d.scheduler.now();
    let i = 0;
    try {
      await faultHooks()?.asyncSnapshot?.(this.faultPoint(checkpointId));
      // A savepoint's files go into its own directory, so that it is self-contained.
      const target = options.targetLocation;
      const storage = d.checkpointing!.storage;
      const writeFile: StateFileSink =
        target === undefined
          ? (name, payload, scope) => storage.writeStateFile(checkpointId, name, payload, scope)
          : (name, payload) => storage.writeSavepointStateFile(target, name, payload);
      const states: OperatorSubtaskState[] = [];
      let bytes = 0;
      for (; i < captured.length; i++) {
        const r = await persistOperatorState(captured[i]!, {
          writeFile,
          stateBackend: d.stateBackend,
          snapshotType: options.snapshotType,
          ...(target === undefined ? { checkpointId } : {}),
          subtaskIndex: d.subtaskIndex,
          signal: this.abort.signal,
        });
        if (r.state) states.push(r.state);
        bytes += r.bytes;
      }
      let persistedData = 0;
      if (recorder !== undefined) {
        const head = d.vertex.nodes[0]!.operatorId;
        const written = await writeChannelState(await recorder.done, this.#identities, writeFile, `ch-${head}-${d.subtaskIndex}.cstate`);
        if (written !== undefined) {
          persistedData = written.bytes;
          bytes += written.bytes;
          const at = states.findIndex((s) => s.operatorId === head);
          const own = at < 0 ? { operatorId: head, files: [] } : states[at]!;
          const withChannels: OperatorSubtaskState = { ...own, files: [...own.files, written.handle.file], channelState: written.handle };
          if (at < 0) states.push(withChannels);
          else states[at] = withChannels;
        }
      }
      if (this.abort.signal.aborted) return;
      d.report({
        type: 'ack',
        ack: {
          subtask: { vertex: d.vertex.index, subtask: d.subtaskIndex },
          checkpointId,
          states,
          metrics: {
            syncDurationMs: m.syncMs,
            asyncDurationMs: d.scheduler.now() - t0,
            alignmentDurationMs: m.alignmentMs,
            startDelayMs: m.startDelayMs,
            bytesProcessedDuringAlignment: 0,
            stateSize: bytes,
            persistedDataBytes: persistedData,
            unaligned: recorder !== undefined,
            busyTimeMsPerSecond: m.busy,
            backPressuredTimeMsPerSecond: m.backPressured,
          },
        },
      });
    } catch (e) {
      for (; i < captured.length; i++) releaseCaptured(captured[i]!);
      if (this.abort.signal.aborted) return;
      const cause = e instanceof Error ? e : new Error(String(e));
      this.#decline(checkpointId, 'CHECKPOINT_DECLINED', new Error(`${this.#host.name}: the asynchronous part of the snapshot failed: ${cause.message}`, { cause }));
    }
  }

  // ---- outcomes ----------------------------------------------------------------------------------

  /**
   * The checkpoint completed (its metadata is durable): tell every operator and function. A
   * source stopping with this savepoint then ends; so does a task whose input ended when this
   * is the job's final checkpoint (`final`), once what the notification started (commits) is done.
   */
  notifyComplete(checkpointId: CheckpointId, final: boolean): void {
    this.#host.mailbox.enqueue(() => {
      this.#notify(checkpointId, true);
      if (this.#recentSnapshots.some((s) => s.id === checkpointId && s.options.stop !== undefined)) {
        this.#announcedStops.add(checkpointId);
        for (const resume of this.#stopAnnouncementWaiters.splice(0)) resume();
      }
      if (this.stopPending === checkpointId) {
        this.#stopWaiters = [];
        this.#host.endStopped();
      } else if (final && this.dataEnded) {
        this.#host.endFinal();
      }
    });
  }

  /**
   * The checkpoint was aborted: stop aligning on it and tell every operator and function. A
   * source stopping with this savepoint resumes: the job goes on.
   */
  notifyAborted(checkpointId: CheckpointId): void {
    const host = this.#host;
    if (this.barriers?.abort(checkpointId)) host.mailbox.schedule();
    this.#cancelRecording(checkpointId, new Error(`checkpoint ${checkpointId} was aborted`));
    this.pendingTriggers.delete(checkpointId);
    if (this.#recentSnapshots.some((s) => s.id === checkpointId)) this.#abortedSnapshots.add(checkpointId);
    if (this.stopPending === checkpointId) {
      this.stopPending = undefined;
      for (const resume of this.#stopWaiters.splice(0)) resume();
      host.mailbox.schedule();
      host.source?.resume();
    }
    host.mailbox.enqueue(() => this.#notify(checkpointId, false));
  }

  /** Resolves when a pending stop is called off; never when the stop goes through (the task ends). */
  stopCalledOff(): Promise<void> {
    return new Promise((resolve) => this.#stopWaiters.push(resolve));
  }

  /**
   * Whether the input ended because the job stops with a savepoint this task took part in (one
   * that was not aborted; a checkpoint triggered by hand may have followed it).
   */
  endedByStop(): boolean {
    for (let i = this.#recentSnapshots.length - 1; i >= 0; i--) {
      const s = this.#recentSnapshots[i]!;
      if (s.options.stop !== undefined && !this.#abortedSnapshots.has(s.id)) return true;
    }
    return false;
  }

  /**
   * Resolves once the completion of the stopping savepoint that ended this task's input was
   * announced here (and what it started, the sinks' commits, was handed to the mailbox). A
   * stopped source sends end-of-partition only after that savepoint completed, and the coordinator
   * announces a stopping savepoint's completion to every task, so the announcement comes.
   */
  stopAnnounced(): Promise<void> {
    const stops = this.#recentSnapshots.filter((s) => s.options.stop !== undefined && !this.#abortedSnapshots.has(s.id));
    const latest = stops[stops.length - 1];
    if (latest === undefined || this.#announcedStops.has(latest.id)) return Promise.resolve();
    return new Promise((resolve) => this.#stopAnnouncementWaiters.push(resolve));
  }

  #notify(checkpointId: CheckpointId, completed: boolean): void {
    const host = this.#host;
    for (const ctx of host.chain.contexts) {
      if (completed) ctx.keyedBackend?.notifyCheckpointComplete?.(checkpointId);
      else ctx.keyedBackend?.notifyCheckpointAborted?.(checkpointId);
    }
    const calls: [() => void | Promise<void>, OperatorContext][] = host.chain.operators.map((op) => [
      () => (completed ? op.notifyCheckpointComplete(checkpointId) : op.notifyCheckpointAborted(checkpointId)),
      op.ctx,
    ]);
    const src = host.source;
    if (src !== undefined) calls.push([() => src.notifyCheckpoint(checkpointId, completed), host.chain.contexts[0]!]);
    for (const p of callUserCode(calls)) host.mailbox.suspendUntil(p);
  }
}
