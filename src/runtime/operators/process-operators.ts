/**
 * Operators that host process functions (one and two inputs, keyed or not) and co-functions.
 * Keyed variants own a timer service; timers fire with the timer's key set as current key.
 *
 * On a keyed state backend that reads state ahead (KeyedStateBackend.prefetch: RocksDB), due
 * timers fire in chunks whose keys' state is read with one batched read first, the task
 * suspended meanwhile; the watermark goes on downstream only once every due timer fired, and a
 * watermark or watermark status arriving meanwhile waits behind it (timer-service.ts has the
 * contract). On the heap backend timers fire as they always did, all in the call.
 */
import type {
  CoFlatMapFunction,
  CoMapFunction,
  CoProcessFunction,
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  OnTimerContext,
  OutputTag,
  ProcessFunction,
  TimerService,
} from '../../api/functions.ts';
import { canonicalKey } from '../../core/key-group.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import { InternalTimerService, type TimeDomain, type TimerPrefetch } from '../timer-service.ts';
import { TimestampedCollector } from './basic-operators.ts';
import { tagError, type OperatorContext, type OperatorExtras, type RestoredExtras } from './operator.ts';
import { UdfOperator } from './udf.ts';

/**
 * The most timers whose keys one read ahead covers: large enough that the read's round trip is
 * spread over many timers, small enough that a chunk is a short stretch of the task's time.
 */
const TIMER_CHUNK = 4096;

/**
 * Suspends the operator's task until the promise settles (OperatorContext.suspendUntil). A
 * rejection fails the task with the error tagged by the operator (tagError), so the job's failure
 * names the operator whose timers or reads failed rather than a bare storage or user error; an
 * error that is already an OperatorError is passed on as it is. One path for both waits on
 * timers fired in chunks: processing-time firing (TimerPrefetch.suspendUntil, called by the timer
 * service) and event-time firing behind a watermark (ProcessSupport.suspendUntil).
 */
function suspendTagged(ctx: OperatorContext, promise: PromiseLike<unknown>): void {
  ctx.suspendUntil(
    Promise.resolve(promise).catch((e: unknown) => {
      throw tagError(e, ctx);
    }),
  );
}

/**
 * Reading timers' keys ahead through the backend's prefetch, in chunks of at most a quarter of
 * what its cache holds (so a chunk's state is still cached when its timers fire); undefined for
 * a backend without prefetch.
 */
function timerPrefetch(ctx: OperatorContext, backend: KeyedStateBackend): TimerPrefetch<unknown> | undefined {
  const prefetch = backend.prefetch?.bind(backend);
  if (prefetch === undefined) return undefined;
  return {
    chunk: () => Math.max(1, Math.min(TIMER_CHUNK, Math.floor((backend.prefetchCapacity?.() ?? Infinity) / 4))),
    read: (keys) => prefetch(keys),
    suspendUntil: (promise) => suspendTagged(ctx, promise),
  };
}

/** A process function's context: timestamp, time, side outputs, and (keyed) key and timers. */
class ProcessSupport implements OnTimerContext<unknown> {
  readonly out: TimestampedCollector;
  #timers: InternalTimerService<unknown> | undefined;
  #domain: TimeDomain = 'event';
  readonly #timerService: TimerService;

  constructor(
    readonly op: UdfOperator<object>,
    keyed: boolean,
    onTimer: ((timestamp: number, ctx: OnTimerContext<unknown>) => void) | undefined,
  ) {
    const ctx = op.ctx;
    this.out = new TimestampedCollector((v, ts) => op.output.collect(v, ts));
    if (keyed) {
      this.#timers = new InternalTimerService<unknown>({
        scheduler: ctx.scheduler,
        prefetch: timerPrefetch(ctx, ctx.keyedBackend!),
        target: {
          onTimer: (domain, key, timestamp, keyGroup) => {
            // The group was the key's when the timer was registered (or restored): not hashed again.
            const backend = ctx.keyedBackend!;
            if (backend.setCurrentKeyInGroup !== undefined) backend.setCurrentKeyInGroup(key, keyGroup);
            else backend.setCurrentKey(key);
            this.#domain = domain;
            this.out.timestamp = domain === 'event' ? timestamp : -Infinity;
            if (onTimer) onTimer(timestamp, this);
          },
        },
      });
    }
    const timers = (): InternalTimerService<unknown> => {
      if (!this.#timers) {
        throw new Error(`"${ctx.node.name}": timers can only be used on a keyed stream (use keyBy() before process())`);
      }
      return this.#timers;
    };
    const backend = () => (timers(), ctx.keyedBackend!); // timers() first: its error names the operator
    this.#timerService = {
      currentProcessingTime: () => ctx.scheduler.now(),
      currentWatermark: () => this.#timers?.currentWatermark() ?? this.#watermark,
      registerEventTimeTimer: (t) => {
        const key = backend().getCurrentKey();
        timers().registerEventTimeTimer(key, canonicalKey(key), backend().getCurrentKeyGroup(), t);
      },
      registerProcessingTimeTimer: (t) => {
        const key = backend().getCurrentKey();
        timers().registerProcessingTimeTimer(key, canonicalKey(key), backend().getCurrentKeyGroup(), t);
      },
      deleteEventTimeTimer: (t) => {
        const key = backend().getCurrentKey();
        timers().deleteEventTimeTimer(key, canonicalKey(key), t);
      },
      deleteProcessingTimeTimer: (t) => {
        const key = backend().getCurrentKey();
        timers().deleteProcessingTimeTimer(key, canonicalKey(key), t);
      },
    };
  }

  #watermark = -Infinity;

  /** Fires the due event-time timers; a promise while they fire in chunks (see TimerOperator.processWatermark). */
  advanceWatermark(watermark: number): Promise<void> | undefined {
    this.#watermark = watermark;
    return this.#timers?.advanceWatermark(watermark);
  }

  /** Suspends the task until the promise settles; a rejection fails the task, naming the operator. */
  suspendUntil(promise: Promise<void>): void {
    suspendTagged(this.op.ctx, promise);
  }

  get closed(): boolean {
    return this.#timers?.closed ?? false;
  }

  close(): void {
    this.#timers?.close();
  }

  snapshotExtras(): OperatorExtras {
    const t = this.#timers;
    return t ? { timers: t.snapshotTimers(), watermark: t.currentWatermark() } : { watermark: this.#watermark };
  }

  restoreExtras(extras: RestoredExtras): void {
    const t = this.#timers;
    if (extras.watermark !== undefined) {
      if (extras.watermark > this.#watermark) this.#watermark = extras.watermark;
      t?.restoreWatermark(extras.watermark);
    }
    if (extras.timers.length > 0) {
      if (!t) throw new Error(`"${this.op.ctx.node.name}": the restored state has timers, but the operator is not keyed`);
      t.restoreTimers(extras.timers);
    }
  }

  timestamp(): number | undefined {
    return this.out.timestamp === -Infinity ? undefined : this.out.timestamp;
  }
  timerService(): TimerService {
    return this.#timerService;
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.op.output.collectSide(tag.id, value, this.out.timestamp);
  }
  getCurrentKey(): unknown {
    const b = this.op.ctx.keyedBackend;
    if (!b) throw new Error(`"${this.op.ctx.node.name}": getCurrentKey() needs a keyed stream`);
    return b.getCurrentKey();
  }
  timeDomain(): 'EVENT_TIME' | 'PROCESSING_TIME' {
    return this.#domain === 'event' ? 'EVENT_TIME' : 'PROCESSING_TIME';
  }
}

/** Shared by process-style operators: a ProcessSupport that advances timers on watermarks. */
abstract class TimerOperator<F extends object> extends UdfOperator<F> {
  protected support!: ProcessSupport;
  /**
   * While due timers fire in chunks (asynchronously, the task suspended): the watermarks and
   * watermark statuses that arrived meanwhile, in order, to be handled once they have fired.
   */
  #held: (() => void)[] | undefined;

  protected openSupport(onTimerOf: { onTimer?: (ts: number, ctx: OnTimerContext<unknown>, out: TimestampedCollector) => void }): void {
    const onTimer = typeof onTimerOf.onTimer === 'function' ? (ts: number, c: OnTimerContext<unknown>) => onTimerOf.onTimer!(ts, c, this.support.out) : undefined;
    this.support = new ProcessSupport(this, this.ctx.keyedBackend !== undefined, onTimer);
  }
  /**
   * Fires the due timers, then forwards the watermark. When they fire in chunks, the task stays
   * suspended until the last chunk fired and the watermark went on: nothing else runs on the
   * task meanwhile (no record, no mail, no barrier: a snapshot never sees the watermark with its
   * timers fired in part), and what reaches this operator's watermark path in the same turn (a
   * watermark status from the valve) is held and handled after it, in order.
   */
  override processWatermark(watermark: number): void {
    if (this.#held !== undefined) {
      this.#held.push(() => this.processWatermark(watermark));
      return;
    }
    const firing = this.support.advanceWatermark(watermark);
    if (firing === undefined) {
      this.output.emitWatermark(watermark);
      return;
    }
    const held: (() => void)[] = [];
    this.#held = held;
    this.support.suspendUntil(
      firing.then(() => {
        this.#held = undefined;
        if (this.support.closed) return;
        this.output.emitWatermark(watermark);
        for (let i = 0; i < held.length; i++) {
          // One that fires in chunks again holds the rest behind it.
          const again = this.#held as (() => void)[] | undefined;
          if (again !== undefined) {
            again.push(...held.slice(i));
            return;
          }
          held[i]!();
        }
      }),
    );
  }
  override processWatermarkStatus(idle: boolean): void {
    if (this.#held !== undefined) this.#held.push(() => this.processWatermarkStatus(idle));
    else super.processWatermarkStatus(idle);
  }
  override async close(): Promise<void> {
    this.support?.close();
    await super.close();
  }
  override snapshotExtras(): OperatorExtras {
    return this.support.snapshotExtras();
  }
  override restoreExtras(extras: RestoredExtras): void {
    this.support.restoreExtras(extras);
  }
}

type AnyProcessFn =
  | ProcessFunction<unknown, unknown>
  | KeyedProcessFunction<unknown, unknown, unknown>;

export class ProcessOperator extends TimerOperator<AnyProcessFn> {
  override async open(): Promise<void> {
    this.openSupport(this.fn as KeyedProcessFunction<unknown, unknown, unknown>);
    await super.open();
  }
  processElement(value: unknown, timestamp: number): void {
    this.setKeyFromElement(value, 0);
    this.support.out.timestamp = timestamp;
    (this.fn as KeyedProcessFunction<unknown, unknown, unknown>).processElement(value, this.support, this.support.out);
  }
}

type AnyCoFn =
  | CoMapFunction<unknown, unknown, unknown>
  | CoFlatMapFunction<unknown, unknown, unknown>
  | CoProcessFunction<unknown, unknown, unknown>
  | KeyedCoProcessFunction<unknown, unknown, unknown, unknown>;

export class CoOperator extends TimerOperator<AnyCoFn> {
  #dispatch!: (value: unknown, input: 0 | 1) => void;

  constructor(
    ctx: OperatorContext,
    fn: AnyCoFn,
    readonly variant: 'co-map' | 'co-flat-map' | 'co-process' | 'keyed-co-process',
  ) {
    super(ctx, fn);
  }

  override async open(): Promise<void> {
    this.openSupport(this.fn as KeyedCoProcessFunction<unknown, unknown, unknown, unknown>);
    const s = this.support;
    switch (this.variant) {
      case 'co-map': {
        const f = this.fn as CoMapFunction<unknown, unknown, unknown>;
        this.#dispatch = (v, i) => s.out.collect(i === 0 ? f.map1(v) : f.map2(v));
        break;
      }
      case 'co-flat-map': {
        const f = this.fn as CoFlatMapFunction<unknown, unknown, unknown>;
        this.#dispatch = (v, i) => (i === 0 ? f.flatMap1(v, s.out) : f.flatMap2(v, s.out));
        break;
      }
      case 'co-process':
      case 'keyed-co-process': {
        const f = this.fn as KeyedCoProcessFunction<unknown, unknown, unknown, unknown>;
        this.#dispatch = (v, i) => (i === 0 ? f.processElement1(v, s, s.out) : f.processElement2(v, s, s.out));
        break;
      }
    }
    await super.open();
  }

  processElement(value: unknown, timestamp: number, input: 0 | 1): void {
    this.setKeyFromElement(value, input);
    this.support.out.timestamp = timestamp;
    this.#dispatch(value, input);
  }
}
