/**
 * The Nexmark generator as a replayable, parallel weir Source.
 *
 * The event-number space is cut into blocks of one proportion cycle (50 events by default: one
 * person, three auctions, 46 bids) and dealt round robin to the splits: split i of k owns blocks
 * i, i + k, i + 2k, ... Every split therefore sees all three kinds of events, and splits read at
 * the same speed stay close together in event time, so the minimum watermark over the parallel
 * readers does not hold back the faster ones for long.
 *
 * A split is plain data: the next event number it will emit, where the input ends and its place
 * in the round robin. Its snapshot is therefore a handful of numbers, and a restored reader
 * continues exactly after the last event of the checkpoint: the source is replayable, as
 * exactly-once needs. A reader with several splits (after restoring at a lower parallelism)
 * always emits the lowest next event number among them, so that its output stays in event-time
 * order and a watermark that trails its newest timestamp never declares one of its own events late.
 */
import type { Boundedness, InputStatus, ReaderOutput, Source, SourceReader, SourceReaderContext, SourceSplit } from '../api/source.ts';
import { WatermarkStrategy } from '../api/watermark-strategy.ts';
import { NexmarkGenerator, nexmarkConfig, type NexmarkConfig } from './generator.ts';
import type { NexmarkEvent } from './model.ts';

export interface NexmarkSplit extends SourceSplit {
  /** The next event number this split emits. */
  readonly next: number;
  /** One past the last event number of the input; null for an unbounded input. */
  readonly end: number | null;
  /** Events per block (personProportion + auctionProportion + bidProportion). */
  readonly block: number;
  /** Splits in the round robin: this split owns every `stride`-th block. */
  readonly stride: number;
}

/** Events emitted per pollNext call: enough to amortise the call, few enough for prompt checkpoints. */
const POLL_BATCH = 64;

/** The Nexmark events of one configuration, generated in parallel readers. */
export class NexmarkSource implements Source<NexmarkEvent, NexmarkSplit> {
  readonly config: NexmarkConfig;

  constructor(config: Partial<NexmarkConfig> = {}) {
    this.config = nexmarkConfig(config);
  }

  getBoundedness(): Boundedness {
    return this.config.maxEvents > 0 ? 'BOUNDED' : 'CONTINUOUS_UNBOUNDED';
  }

  /** One split per parallel reader; a split with no event below the end is left out. */
  createSplits(parallelism: number): NexmarkSplit[] {
    const block = this.config.personProportion + this.config.auctionProportion + this.config.bidProportion;
    const end = this.config.maxEvents > 0 ? this.config.maxEvents : null;
    const splits: NexmarkSplit[] = [];
    for (let i = 0; i < parallelism; i++) {
      const next = i * block;
      if (end === null || next < end) splits.push({ splitId: String(i), next, end, block, stride: parallelism });
    }
    return splits;
  }

  createReader(_context: SourceReaderContext): SourceReader<NexmarkEvent, NexmarkSplit> {
    return new NexmarkReader(new NexmarkGenerator(this.config));
  }
}

interface MutableSplit {
  readonly splitId: string;
  next: number;
  readonly end: number | null;
  readonly block: number;
  readonly stride: number;
}

/** The event number after n in the split's blocks. */
function advance(s: MutableSplit, n: number): number {
  const m = n + 1;
  return m % s.block === 0 ? m + (s.stride - 1) * s.block : m;
}

function finished(s: MutableSplit): boolean {
  return s.end !== null && s.next >= s.end;
}

class NexmarkReader implements SourceReader<NexmarkEvent, NexmarkSplit> {
  readonly #generator: NexmarkGenerator;
  #splits: MutableSplit[] = [];
  #noMore = false;
  /** Rate limiting: wall-clock start and events emitted since, per reader. */
  #started = -1;
  #emitted = 0;

  constructor(generator: NexmarkGenerator) {
    this.#generator = generator;
  }

  addSplits(splits: readonly NexmarkSplit[]): void {
    for (const s of splits) {
      const copy: MutableSplit = { splitId: s.splitId, next: s.next, end: s.end, block: s.block, stride: s.stride };
      if (!finished(copy)) this.#splits.push(copy);
    }
  }

  notifyNoMoreSplits(): void {
    this.#noMore = true;
  }

  pollNext(output: ReaderOutput<NexmarkEvent>): InputStatus {
    const splits = this.#splits;
    if (splits.length === 0) return this.#noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
    let budget = POLL_BATCH;
    if (this.#generator.config.rateLimited) {
      budget = Math.min(budget, this.#due());
      if (budget <= 0) return 'NOTHING_AVAILABLE';
      this.#emitted += budget;
    }
    const g = this.#generator;
    if (splits.length === 1) {
      const s = splits[0]!;
      for (let k = 0; k < budget && !finished(s); k++) {
        const n = s.next;
        // Advance first: a checkpoint can only come between two polls, so the position and the
        // emitted events agree whenever one is taken.
        s.next = advance(s, n);
        output.collect(g.eventAt(n), g.timestampOf(n));
      }
    } else {
      for (let k = 0; k < budget; k++) {
        let s: MutableSplit | undefined;
        for (const c of splits) if (!finished(c) && (s === undefined || c.next < s.next)) s = c;
        if (s === undefined) break;
        const n = s.next;
        s.next = advance(s, n);
        output.collect(g.eventAt(n), g.timestampOf(n));
      }
    }
    if (splits.some(finished)) this.#splits = splits.filter((s) => !finished(s));
    if (this.#splits.length > 0) return 'MORE_AVAILABLE';
    return this.#noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
  }

  /** Events per second of wall-clock time this reader may emit: its splits' share of eventRate. */
  #rate(): number {
    const s = this.#splits;
    return (this.#generator.config.eventRate * s.length) / (s[0]?.stride ?? 1);
  }

  /** How many more events the rate limit allows now: event k since the reader started is due k / rate seconds after it. */
  #due(): number {
    const now = performance.now();
    if (this.#started < 0) this.#started = now;
    return Math.floor(((now - this.#started) * this.#rate()) / 1000) + 1 - this.#emitted;
  }

  isAvailable(): Promise<void> {
    if (!this.#generator.config.rateLimited || this.#splits.length === 0) return new Promise(() => {});
    const dueAt = this.#started + (this.#emitted * 1000) / this.#rate();
    const wait = Math.max(1, Math.ceil(dueAt - performance.now()));
    return new Promise((resolve) => setTimeout(resolve, wait));
  }

  snapshotState(): NexmarkSplit[] {
    return this.#splits.filter((s) => !finished(s)).map((s) => ({ splitId: s.splitId, next: s.next, end: s.end, block: s.block, stride: s.stride }));
  }
}

/**
 * Event time for Nexmark events: the timestamp each event carries from the source (its
 * `dateTime`). Each reader emits in timestamp order, so the default bound of 0 ms declares
 * nothing late; Flink's Nexmark DDL uses 4 s for sources that may be out of order (Kafka).
 */
export function nexmarkWatermarkStrategy(maxOutOfOrdernessMs = 0): WatermarkStrategy<NexmarkEvent> {
  return WatermarkStrategy.forBoundedOutOfOrderness<NexmarkEvent>(maxOutOfOrdernessMs);
}
