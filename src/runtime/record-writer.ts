/**
 * Writes one operator's output onto one network edge: picks the consumer channel per record
 * (the partitioner), stages records into per-channel batches, and sends a batch when it is
 * full or at the end of the current event-loop turn. Tracks whether every channel has credit,
 * so the task can stop producing while any consumer is behind.
 */
import type { KeySelector } from '../api/functions.ts';
import type { PartitionerSpec } from '../api/transformation.ts';
import { assignToKeyGroup, computeOperatorIndexForKeyGroup } from '../core/key-group.ts';
import type { OutputChannel } from './channel/channel.ts';
import type { ChannelEvent, CheckpointBarrier } from './events.ts';
import { monotonicClock } from '../core/time.ts';

/** Shared by all writers of a task: counts channels waiting for credit. */
export class Backpressure {
  blocked = 0;
  /** Called when the last blocked channel becomes available. */
  onRelease: (() => void) | undefined = undefined;
  /** Time with at least one channel out of credit, in ended stretches, ms (Flink's back-pressured time). */
  #blockedMs = 0;
  /** When the current stretch began (monotonic ms), while blocked. */
  #since = 0;

  /** A channel ran out of credit. */
  block(): void {
    if (this.blocked++ === 0) this.#since = monotonicClock.now();
  }

  /** A channel got credit again; when it was the last blocked one, the task may produce again. */
  release(): void {
    if (--this.blocked === 0) {
      this.#blockedMs += monotonicClock.now() - this.#since;
      this.onRelease?.();
    }
  }

  /** Back-pressured time so far, including a stretch under way, ms. */
  blockedMs(now: number): number {
    return this.#blockedMs + (this.blocked > 0 ? now - this.#since : 0);
  }
}

/** Chooses the channel(s) for a record: returns a channel index, or -1 for "all channels". */
type Selector = (value: unknown) => number;

/**
 * A key-partitioned edge with more than one consumer: a record goes to the consumer that owns
 * its key's group, and the batch carries the group (and, to a consumer in the same thread, the
 * key) so that the consumer does not select and hash the key again.
 */
export interface KeyRoute {
  readonly keyOf: KeySelector<unknown, unknown>;
  /** The consumer's maxParallelism and parallelism. */
  readonly maxParallelism: number;
  readonly parallelism: number;
  /** Named in the error for a key that is not one. */
  readonly where: string;
}

/** How a writer routes records: a selector, or by key group. */
export type Routing = Selector | KeyRoute;

export function createSelector(
  spec: PartitionerSpec,
  channels: number,
  producerIndex: number,
  consumerParallelism: number,
  consumerMaxParallelism: number,
  where: string,
): Routing {
  switch (spec.kind) {
    case 'forward':
    case 'global':
      return () => 0;
    case 'broadcast':
      return () => -1;
    case 'rebalance':
    case 'rescale': {
      let next = producerIndex % channels;
      return () => {
        const c = next;
        next = next + 1 === channels ? 0 : next + 1;
        return c;
      };
    }
    case 'shuffle': {
      // A small seeded generator: shuffle needs no reproducibility, but seeding keeps runs comparable.
      let s = (producerIndex + 1) * 0x9e3779b1;
      return () => {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        return (s >>> 0) % channels;
      };
    }
    case 'hash': {
      // One consumer: every key goes there, and it selects and hashes the key itself when it sets it.
      if (channels === 1) return () => 0;
      return { keyOf: spec.keySelector as KeySelector<unknown, unknown>, maxParallelism: consumerMaxParallelism, parallelism: consumerParallelism, where };
    }
  }
}

class Staging {
  values: unknown[] = [];
  timestamps: Float64Array | null = null;
  /** With a KeyRoute: the records' key groups and keys. */
  keyGroups: Uint16Array | null = null;
  keys: unknown[] | null = null;
  count = 0;
  /** Records at which this batch is sent; set by the channel after every send. */
  capacity: number;
  constructor(
    /** The channel it stages for. */
    readonly channel: number,
    capacity: number,
    keyed: boolean,
  ) {
    this.capacity = capacity;
    if (keyed) this.#keyed();
  }

  /** Fresh key columns for the next batch. */
  #keyed(): void {
    this.keyGroups = new Uint16Array(this.capacity);
    this.keys = [];
  }

  /** Starts the next batch, of at most `capacity` records, after the last one was sent. */
  next(capacity: number): void {
    this.values = [];
    this.timestamps = null;
    this.count = 0;
    this.capacity = capacity;
    if (this.keys !== null) this.#keyed();
  }
}

export class RecordWriter {
  readonly #channels: readonly OutputChannel[];
  /** Exactly one of the two is set. */
  readonly #select: Selector | undefined;
  readonly #route: KeyRoute | undefined;
  readonly #staging: Staging[];
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #backpressure: Backpressure;
  #flushScheduled = false;
  /** Receives errors of flushes that run outside record processing (end of turn). */
  onError: (error: unknown) => void = (e) => {
    throw e;
  };
  readonly #flushAll = (): void => {
    this.#flushScheduled = false;
    try {
      this.flush();
    } catch (e) {
      this.onError(e);
    }
  };

  /** Records sent, counted per batch (a broadcast record counts once per channel). */
  readonly #recordsOut: { count: number };

  constructor(
    channels: readonly OutputChannel[],
    routing: Routing,
    buffer: { records: number; bytes: number },
    backpressure: Backpressure,
    recordsOut: { count: number } = { count: 0 },
  ) {
    this.#recordsOut = recordsOut;
    this.#channels = channels;
    if (typeof routing === 'function') {
      this.#select = routing;
      this.#route = undefined;
    } else {
      this.#select = undefined;
      this.#route = routing;
    }
    this.#maxRecords = buffer.records;
    this.#maxBytes = buffer.bytes;
    this.#backpressure = backpressure;
    this.#staging = channels.map((ch, i) => new Staging(i, ch.batchCapacity(buffer.records, buffer.bytes), this.#route !== undefined));
    for (const ch of channels) {
      ch.onAvailable = () => backpressure.release();
    }
  }

  emit(value: unknown, timestamp: number): void {
    const route = this.#route;
    if (route !== undefined) {
      const key = route.keyOf(value);
      const keyGroup = assignToKeyGroup(key, route.maxParallelism, route.where);
      const s = this.#staging[computeOperatorIndexForKeyGroup(route.maxParallelism, route.parallelism, keyGroup)]!;
      s.keyGroups![s.count] = keyGroup;
      s.keys!.push(key);
      this.#stage(s, value, timestamp);
      return;
    }
    const c = this.#select!(value);
    if (c >= 0) this.#stage(this.#staging[c]!, value, timestamp);
    else for (let i = 0; i < this.#channels.length; i++) this.#stage(this.#staging[i]!, value, timestamp);
  }

  #stage(s: Staging, value: unknown, timestamp: number): void {
    if (timestamp !== -Infinity && s.timestamps === null) {
      s.timestamps = new Float64Array(s.capacity).fill(-Infinity);
    }
    if (s.timestamps !== null) s.timestamps[s.count] = timestamp;
    s.values.push(value);
    if (++s.count === s.capacity) this.#send(s.channel);
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushAll);
    }
  }

  #send(c: number): void {
    const s = this.#staging[c]!;
    if (s.count === 0) return;
    const ch = this.#channels[c]!;
    const wasAvailable = ch.available;
    ch.sendBatch({ values: s.values, timestamps: s.timestamps, count: s.count, keyGroups: s.keyGroups, keys: s.keys });
    this.#recordsOut.count += s.count;
    if (wasAvailable && !ch.available) this.#backpressure.block();
    s.next(ch.batchCapacity(this.#maxRecords, this.#maxBytes));
  }

  /** Sends every staged record now. */
  flush(): void {
    for (let c = 0; c < this.#channels.length; c++) this.#send(c);
  }

  /** The latest watermark sent (the currentOutputWatermark metric); -Infinity before one. */
  lastWatermark = -Infinity;

  /** Sends staged records, then the event, on every channel. */
  broadcastEvent(event: ChannelEvent): void {
    if (event.kind === 'watermark') this.lastWatermark = event.timestamp;
    this.flush();
    for (const ch of this.#channels) ch.sendEvent(event);
  }

  /**
   * Sends staged records, then the barrier of an unaligned checkpoint on every channel ahead of
   * whatever still waits for credit (the consumers store what it overtook).
   */
  broadcastPriorityBarrier(barrier: CheckpointBarrier): void {
    this.flush();
    for (const ch of this.#channels) ch.sendPriorityBarrier(barrier);
  }

  /** The in-band barrier of `checkpointId` leaves as a priority barrier on every channel where it still waits for credit. */
  prioritizeQueuedBarrier(checkpointId: number): void {
    for (const ch of this.#channels) ch.prioritizeQueuedBarrier(checkpointId);
  }

  close(): void {
    for (const ch of this.#channels) ch.close();
  }
}
