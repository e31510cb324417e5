/**
 * A job with a chosen amount of keyed heap state, for the checkpoint-pause and recovery
 * benchmarks:
 *
 *   paced source → keyBy(x % keys) → keyed function with one ValueState<Payload> per key → sink
 *
 * The source first emits 0..keys-1 as fast as the job takes them, and the keyed function stores
 * a fresh ~1 KB value for each (the build phase). Then the source emits a steady `rate` records
 * per second, paced on the event loop, and each record updates its key's value in place (count
 * and one sample), the copy-on-write path while a snapshot is live. The source's position is
 * operator state, so a restored job resumes the steady stream where the checkpoint left it.
 *
 * The keyed function records every gap of GAP_THRESHOLD_MS or more between two consecutive
 * records, when its snapshotState ran and when it heard a checkpoint complete, and the worker's
 * garbage collections; it sends them when told ('report'). Told 'fail', it throws at its next
 * record. Checkpoints are only taken when triggered (the interval is an hour).
 *
 *   weir run bench/jobs/checkpoint-state.ts <runId> <keys> <checkpoint dir> <records/s> <restarts>
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { isMainThread, threadId, type BroadcastChannel } from 'node:worker_threads';
import {
  KeyedProcessFunction,
  ListStateDescriptor,
  RestartStrategies,
  RichSourceFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type CheckpointedFunction,
  type CheckpointListener,
  type FunctionInitializationContext,
  type FunctionSnapshotContext,
  type KeyedProcessContext,
  type ListState,
  type SourceContext,
  type ValueState,
} from 'weir';
import {
  absNow,
  commandChannel,
  GAP_THRESHOLD_MS,
  makePayload,
  parseStateJobArgs,
  postReport,
  SAMPLES_PER_KEY,
  type Payload,
  type StateJobCommand,
} from './checkpoint-common.ts';

const args = parseStateJobArgs(process.argv.slice(2));
const { runId, keys, rate } = args;
if (!isMainThread) postReport(runId, { type: 'module', at: absNow(), threadId });

/** Most records emitted in one event-loop turn of the steady phase (catching up after a pause). */
const MAX_PER_TURN = 1000;
/** Cap on recorded gaps (pairs), so a pathological run cannot exhaust memory. */
const MAX_GAPS = 1_000_000;

class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

class PacedSource extends RichSourceFunction<number> implements CheckpointedFunction {
  #running = true;
  #next = 0;
  #position!: ListState<number>;

  initializeState(ctx: FunctionInitializationContext): void {
    this.#position = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<number>('next'));
    const restored = this.#position.get();
    if (ctx.isRestored() && restored.length > 0) this.#next = restored[0]!;
  }

  snapshotState(): void {
    this.#position.update([this.#next]);
  }

  async run(ctx: SourceContext<number>): Promise<void> {
    // Build phase: one record per key, as fast as the job takes them. The position is updated
    // after collect() returns, as checkpoints of source functions require.
    while (this.#running && this.#next < keys) {
      const pause = ctx.collect(this.#next);
      this.#next++;
      if (pause) await pause;
    }
    // Steady phase: the records due at `rate`, then a turn of the event loop.
    const start = performance.now();
    const base = this.#next;
    while (this.#running) {
      const due = base + Math.floor(((performance.now() - start) * rate) / 1000);
      for (let n = 0; this.#running && this.#next < due && n < MAX_PER_TURN; n++) {
        const pause = ctx.collect(this.#next);
        this.#next++;
        if (pause) await pause;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  cancel(): void {
    this.#running = false;
  }
}

class KeyedPayload extends KeyedProcessFunction<number, number, number> implements CheckpointedFunction, CheckpointListener {
  private state!: ValueState<Payload>;
  private attempt = 0;
  private records = 0;
  private firstAt = 0;
  private last = 0;
  private failNext = false;
  private readonly gaps: number[] = [];
  private readonly gc: number[] = [];
  private readonly marks: { checkpointId: number; snapshotAt: number; completeAt: number | undefined }[] = [];
  private commands: BroadcastChannel | undefined;
  private observer: PerformanceObserver | undefined;

  initializeState(): void {}

  override open(): void {
    const rc = this.getRuntimeContext();
    this.state = rc.getState(new ValueStateDescriptor<Payload>('payload'));
    this.attempt = rc.getAttemptNumber();
    postReport(runId, { type: 'open', at: absNow(), attempt: this.attempt, threadId });
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
        if (this.gc.length < 3 * MAX_GAPS) this.gc.push(performance.timeOrigin + e.startTime, e.duration, kind);
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.commands = commandChannel(runId);
    this.commands.onmessage = (event) => {
      const command = (event as { data: StateJobCommand }).data;
      if (command.type === 'fail') this.failNext = true;
      else if (command.type === 'report') {
        postReport(runId, {
          type: 'gaps',
          attempt: this.attempt,
          records: this.records,
          firstAt: this.firstAt,
          lastAt: performance.timeOrigin + this.last,
          gaps: this.gaps.slice(),
          marks: this.marks.map((m) => ({ ...m })),
          gc: this.gc.slice(),
        });
      }
    };
  }

  processElement(x: number, ctx: KeyedProcessContext<number>): void {
    const t = performance.now();
    if (this.records++ === 0) {
      this.firstAt = performance.timeOrigin + t;
      postReport(runId, { type: 'first', at: this.firstAt, attempt: this.attempt, restored: this.state.value() !== undefined });
    } else {
      const gap = t - this.last;
      if (gap >= GAP_THRESHOLD_MS && this.gaps.length < 2 * MAX_GAPS) this.gaps.push(performance.timeOrigin + this.last, gap);
    }
    this.last = t;
    if (this.failNext) {
      this.failNext = false;
      postReport(runId, { type: 'failing', at: absNow(), attempt: this.attempt });
      throw new InjectedFailure(`failure injected in attempt ${this.attempt}`);
    }
    if (x < keys) {
      this.state.update(makePayload(x));
      if (x === keys - 1) postReport(runId, { type: 'built', at: absNow(), attempt: this.attempt });
      return;
    }
    const value = this.state.value();
    if (value === undefined) throw new Error(`key ${ctx.getCurrentKey()} has no state: the build phase did not reach it`);
    value.count++;
    value.samples[value.count % SAMPLES_PER_KEY] = x + 0.5; // a float, as the built samples are: the state keeps its size
    this.state.update(value);
  }

  snapshotState(ctx: FunctionSnapshotContext): void {
    this.marks.push({ checkpointId: ctx.getCheckpointId(), snapshotAt: absNow(), completeAt: undefined });
  }

  notifyCheckpointComplete(checkpointId: number): void {
    const mark = this.marks.find((m) => m.checkpointId === checkpointId);
    if (mark) mark.completeAt = absNow();
  }

  override close(): void {
    this.observer?.disconnect();
    this.commands?.close();
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(3_600_000);
env.getCheckpointConfig().setCheckpointStorage(args.dir);
env.setRestartStrategy(args.restarts > 0 ? RestartStrategies.fixedDelayRestart(args.restarts, 0) : RestartStrategies.noRestart());
env
  .addSource(new PacedSource(), 'paced source')
  .uid('paced-source')
  .keyBy((x) => x % keys)
  .process(new KeyedPayload())
  .uid('keyed-payload')
  .name('keyed payload')
  .addSink(() => {})
  .uid('sink');
await env.execute('bench checkpoint-state');
