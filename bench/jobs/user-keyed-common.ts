/**
 * The user-keyed job's parts, written the way an application would write them (class-based
 * functions, event time, keyed state and timers), and what its plain-loop twin shares with it:
 *
 *   fromSequence(1..N)
 *     → map: a RichMapFunction turning the n-th number of its partition into a record
 *     → assignTimestampsAndWatermarks(bounded out-of-orderness 100 ms, timestamp assigner)
 *     → keyBy(user)
 *     → process: a KeyedProcessFunction with two ValueStates per key (records counted, sum of
 *       their timestamps) and one event-time timer per key at the end of the 1 s window of the
 *       key's first pending record; the timer emits [count, timestamp sum] and clears both
 *     → sink: sums what the timers emitted and reports it
 *
 * Records come in two kinds: `numbers`, one number per record packing its event time (high bits)
 * and its user id (low 20 bits), and `events`, an `Event { user, url, timestamp }` object
 * (examples/event.ts) with a user name as a string key.
 *
 * Event time: each map instance counts the records of its partition; its n-th record's timestamp
 * is floor(n / 100) ms plus a jitter of 0–49 ms from a hash of the number, so event time advances
 * 1 s per 100,000 records in every partition alike (as partitions of a log read side by side),
 * records are out of order by less than the 100 ms bound, and none is late. Which records share
 * a timer depends on when watermarks come (every 200 ms of processing time), but every record is
 * counted exactly once, so the emitted counts add up to N and the emitted timestamp sums to the
 * sum of all timestamps, a figure that depends only on N and the partition sizes.
 */
import { BroadcastChannel } from 'node:worker_threads';
import {
  KeyedProcessFunction,
  RichMapFunction,
  RichSinkFunction,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
  type StreamExecutionEnvironment,
  type ValueState,
} from 'weir';
import { Event } from '../../examples/event.ts';
import { channelName } from './common.ts';

export { Event };

export type RecordKind = 'numbers' | 'events';

/** Records per millisecond of event time in each partition. */
export const RECORDS_PER_MS = 100;
/** Timestamps run up to this many ms behind their partition's position (less than the bound). */
export const MAX_JITTER_MS = 50;
/** The watermark strategy's bound. */
export const OUT_OF_ORDERNESS_MS = 100;
/** Event-time window of a key's pending records. */
export const WINDOW_MS = 1000;
/** A numbers record is timestamp * KEY_SPACE + user id. */
export const KEY_SPACE = 2 ** 20;
/** Largest number of distinct keys: user ids must fit below KEY_SPACE. */
export const MAX_KEYS = 1_000_000;

const URLS = ['./home', './cart', './fav', './prod?id=1', './prod?id=2'] as const;

/** A 32-bit integer hash (murmur3's finaliser): spreads consecutive numbers over keys uniformly. */
export function mix(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The user id of number x among `keys` users. */
export function userOf(h: number, keys: number): number {
  return h % keys;
}

/** The event time of the record at position `seq` (0-based) of its partition, made from number x's hash. */
export function timestampOf(seq: number, h: number): number {
  return Math.floor(seq / RECORDS_PER_MS) + ((h >>> 20) % MAX_JITTER_MS);
}

/** The last millisecond of the window holding `timestamp`. */
export function windowEnd(timestamp: number): number {
  return timestamp - (timestamp % WINDOW_MS) + WINDOW_MS - 1;
}

export function urlOf(h: number): string {
  return URLS[(h >>> 8) % URLS.length]!;
}

/** Number → packed numbers record: event time in the high bits, user id in the low 20. */
export class ToReading extends RichMapFunction<number, number> {
  private seq = 0;

  constructor(private readonly keys: number) {
    super();
  }

  map(x: number): number {
    const h = mix(x);
    return timestampOf(this.seq++, h) * KEY_SPACE + userOf(h, this.keys);
  }
}

/** Number → Event with a user name, a URL and an event time. */
export class ToEvent extends RichMapFunction<number, Event> {
  private seq = 0;

  constructor(private readonly keys: number) {
    super();
  }

  map(x: number): Event {
    const h = mix(x);
    return new Event(`user-${userOf(h, this.keys)}`, urlOf(h), timestampOf(this.seq++, h));
  }
}

/** What a timer emits: records counted for the key since its last timer, and their timestamps' sum. */
export type WindowTotal = [count: number, timestampSum: number];

/**
 * Per key: a count and a timestamp sum in ValueState, and one event-time timer at the end of the
 * window of the first record since the last timer. The timer emits both and clears the key.
 */
export class PendingWindowPerKey<K, T> extends KeyedProcessFunction<K, T, WindowTotal> {
  private count!: ValueState<number>;
  private timestampSum!: ValueState<number>;

  override open(): void {
    const ctx = this.getRuntimeContext();
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
    this.timestampSum = ctx.getState(new ValueStateDescriptor<number>('timestamp-sum'));
  }

  processElement(_value: T, ctx: KeyedProcessContext<K>, _out: Collector<WindowTotal>): void {
    const timestamp = ctx.timestamp()!;
    const count = this.count.value();
    if (count === undefined) {
      ctx.timerService().registerEventTimeTimer(windowEnd(timestamp));
      this.count.update(1);
      this.timestampSum.update(timestamp);
    } else {
      this.count.update(count + 1);
      this.timestampSum.update(this.timestampSum.value()! + timestamp);
    }
  }

  override onTimer(_timestamp: number, _ctx: OnTimerContext<K>, out: Collector<WindowTotal>): void {
    out.collect([this.count.value()!, this.timestampSum.value()!]);
    this.count.clear();
    this.timestampSum.clear();
  }
}

/** Posted by every sink instance when its input ended. */
export interface UserKeyedSinkReport {
  readonly type: 'user-keyed-sink';
  readonly subtask: number;
  readonly subtasks: number;
  /** Timer outputs received. */
  readonly emitted: number;
  /** Sum of their counts: the records they account for. */
  readonly records: number;
  /** Sum of their timestamp sums. */
  readonly timestampSum: number;
}

export class WindowTotalsSink extends RichSinkFunction<WindowTotal> {
  emitted = 0;
  records = 0;
  timestampSum = 0;

  constructor(readonly runId: string) {
    super();
  }

  invoke(value: WindowTotal): void {
    this.emitted++;
    this.records += value[0];
    this.timestampSum += value[1];
  }

  finish(): void {
    const ctx = this.getRuntimeContext();
    const report: UserKeyedSinkReport = {
      type: 'user-keyed-sink',
      subtask: ctx.getIndexOfThisSubtask(),
      subtasks: ctx.getNumberOfParallelSubtasks(),
      emitted: this.emitted,
      records: this.records,
      timestampSum: this.timestampSum,
    };
    const channel = new BroadcastChannel(channelName(this.runId));
    channel.postMessage(report);
    channel.close();
  }
}

export function parseKind(value: string | undefined): RecordKind {
  if (value !== 'numbers' && value !== 'events') throw new RangeError(`record kind must be "numbers" or "events", got ${String(value)}`);
  return value;
}

export function parseKeys(value: string | undefined): number {
  const keys = Number(value);
  if (!Number.isSafeInteger(keys) || keys < 1 || keys > MAX_KEYS) {
    throw new RangeError(`keys must be an integer from 1 to ${MAX_KEYS}, got ${String(value)}`);
  }
  return keys;
}

/** The user-keyed pipeline over 1..n (see the top of this file). */
export function addUserKeyed(env: StreamExecutionEnvironment, n: number, runId: string, kind: RecordKind, keys: number): void {
  const numbers = env.fromSequence(1, n).uid('sequence');
  const totals =
    kind === 'numbers'
      ? numbers
          .map(new ToReading(keys))
          .uid('to-reading')
          .assignTimestampsAndWatermarks(
            WatermarkStrategy.forBoundedOutOfOrderness<number>(OUT_OF_ORDERNESS_MS).withTimestampAssigner((r) => Math.floor(r / KEY_SPACE)),
          )
          .uid('timestamps')
          .keyBy((r) => r % KEY_SPACE)
          .process(new PendingWindowPerKey<number, number>())
          .uid('pending-window-per-key')
      : numbers
          .map(new ToEvent(keys))
          .uid('to-event')
          .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Event>(OUT_OF_ORDERNESS_MS).withTimestampAssigner((e) => e.timestamp))
          .uid('timestamps')
          .keyBy((e) => e.user)
          .process(new PendingWindowPerKey<string, Event>())
          .uid('pending-window-per-key');
  totals.addSink(new WindowTotalsSink(runId)).uid('sink');
}
