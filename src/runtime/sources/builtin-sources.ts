/**
 * The built-in replayable sources, written against the public split-based Source contract:
 * a number sequence split into ranges, and a fixed list of elements. Their splits carry the
 * next position to read, so a snapshot of the splits is a snapshot of the read position.
 */
import type { InputStatus, ReaderOutput, Source, SourceReader, SourceSplit } from '../../api/source.ts';
import { monotonicClock } from '../../core/time.ts';

/** What the task hands the sequence reader: a ReaderOutput that may also take a whole range at once. */
export interface SequenceOutput extends ReaderOutput<number> {
  readonly collectRange?: ((from: number, to: number) => void) | undefined;
}

export interface SequenceSplit extends SourceSplit {
  /** Next number to emit. */
  readonly next: number;
  /** Last number of the range (inclusive). */
  readonly to: number;
}

/** from..to inclusive, divided into `parallelism` contiguous ranges of near-equal size. */
export class NumberSequenceSource implements Source<number, SequenceSplit> {
  constructor(
    readonly from: number,
    readonly to: number,
  ) {}
  getBoundedness(): 'BOUNDED' {
    return 'BOUNDED';
  }
  createSplits(parallelism: number): SequenceSplit[] {
    const total = this.to - this.from + 1;
    const splits: SequenceSplit[] = [];
    let start = this.from;
    for (let i = 0; i < parallelism; i++) {
      const size = Math.floor(total / parallelism) + (i < total % parallelism ? 1 : 0);
      if (size > 0) splits.push({ splitId: String(i), next: start, to: start + size - 1 });
      start += size;
    }
    return splits;
  }
  createReader(): SourceReader<number, SequenceSplit> {
    return new SequenceReader();
  }
}

/** Chunks one poll may emit, and how long a chunk may take for the next one to follow in the same poll. */
const MAX_CHUNKS_PER_POLL = 8;
const QUICK_CHUNK_MS = 0.05;

class SequenceReader implements SourceReader<number, SequenceSplit> {
  #splits: { splitId: string; next: number; to: number }[] = [];
  #noMore = false;
  addSplits(splits: readonly SequenceSplit[]): void {
    for (const s of splits) this.#splits.push({ ...s });
  }
  notifyNoMoreSplits(): void {
    this.#noMore = true;
  }
  pollNext(output: ReaderOutput<number>): InputStatus {
    const s = this.#splits[0];
    if (!s) return this.#noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
    // Records go out in chunks of 64, more chunks per call while they are quick: a trivial chain
    // pays the per-call cost less often, and a slow one (the task checks checkpoint triggers,
    // backpressure and its time slice between calls) never runs long inside one call.
    const start = monotonicClock.now();
    for (let chunk = 0; chunk < MAX_CHUNKS_PER_POLL; chunk++) {
      const end = Math.min(s.to, s.next + 63);
      const range = (output as SequenceOutput).collectRange;
      if (range !== undefined) {
        const from = s.next;
        // A failure inside the range fails the task; the position only matters between polls.
        s.next = end + 1;
        range(from, end);
      } else {
        for (let n = s.next; n <= end; n++) {
          s.next = n + 1;
          output.collect(n);
        }
      }
      if (s.next > s.to || monotonicClock.now() - start > QUICK_CHUNK_MS) break;
    }
    if (s.next > s.to) this.#splits.shift();
    return this.#splits.length > 0 || !this.#noMore ? 'MORE_AVAILABLE' : 'END_OF_INPUT';
  }
  isAvailable(): Promise<void> {
    return new Promise(() => {});
  }
  snapshotState(): SequenceSplit[] {
    return this.#splits.filter((s) => s.next <= s.to).map((s) => ({ ...s }));
  }
}

export interface ElementsSplit extends SourceSplit {
  readonly index: number;
}

/** A fixed list of values read in order by a single reader. */
export class ElementsSource<T> implements Source<T, ElementsSplit> {
  constructor(readonly values: readonly T[]) {}
  getBoundedness(): 'BOUNDED' {
    return 'BOUNDED';
  }
  createSplits(): ElementsSplit[] {
    return this.values.length > 0 ? [{ splitId: '0', index: 0 }] : [];
  }
  createReader(): SourceReader<T, ElementsSplit> {
    const values = this.values;
    let split: { splitId: string; index: number } | undefined;
    let noMore = false;
    return {
      addSplits(splits) {
        if (splits[0]) split = { ...splits[0] };
      },
      notifyNoMoreSplits() {
        noMore = true;
      },
      pollNext(output) {
        if (!split) return noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
        if (split.index < values.length) output.collect(values[split.index++]!);
        if (split.index >= values.length) {
          split = undefined;
          return noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
        }
        return 'MORE_AVAILABLE';
      },
      isAvailable: () => new Promise(() => {}),
      snapshotState: () => (split ? [{ ...split }] : []),
    };
  }
}
