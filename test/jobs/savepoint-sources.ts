/**
 * Sources shared by the savepoint fixtures, each replayable in its own way and paced so that a
 * run lasts long enough to take a savepoint in the middle:
 *
 * - PacedSequence: a split-based Source (the runtime resumes its splits); `splits` ranges of
 *   from..to, however many subtasks read them, so a restore at another parallelism deals the
 *   recorded splits out again.
 * - PartitionSource: a parallel SourceFunction reading `partitions` interleaved partitions of
 *   from..to, its positions in operator list state: 'union' (every subtask gets every position
 *   and keeps its partitions, as Flink's Kafka consumer does) or 'split' (positions are dealt
 *   out; each subtask reads what it got).
 */
import {
  ListStateDescriptor,
  RichParallelSourceFunction,
  type CheckpointedFunction,
  type FunctionInitializationContext,
  type InputStatus,
  type ListState,
  type ReaderOutput,
  type Source,
  type SourceContext,
  type SourceReader,
  type SourceSplit,
} from 'weir';

export interface Pace {
  /** Records a reader (or function) emits between two pauses; 0 or absent: no pauses. */
  readonly batch?: number;
  /** Length of a pause, ms. */
  readonly pauseMs?: number;
}

interface RangeSplit extends SourceSplit {
  readonly next: number;
  readonly to: number;
}

export class PacedSequence implements Source<number, RangeSplit> {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly splits: number,
    readonly pace: Pace = {},
  ) {}
  getBoundedness(): 'BOUNDED' {
    return 'BOUNDED';
  }
  createSplits(): RangeSplit[] {
    const total = this.to - this.from + 1;
    const out: RangeSplit[] = [];
    let start = this.from;
    for (let i = 0; i < this.splits; i++) {
      const size = Math.floor(total / this.splits) + (i < total % this.splits ? 1 : 0);
      if (size > 0) out.push({ splitId: `range-${i}`, next: start, to: start + size - 1 });
      start += size;
    }
    return out;
  }
  createReader(): SourceReader<number, RangeSplit> {
    return new PacedReader(this.pace);
  }
}

/** Reads its splits round robin, a few records per poll, pausing after each `batch`. */
class PacedReader implements SourceReader<number, RangeSplit> {
  #splits: { splitId: string; next: number; to: number }[] = [];
  #noMore = false;
  #turn = 0;
  #sincePause = 0;
  constructor(readonly pace: Pace) {}
  addSplits(splits: readonly RangeSplit[]): void {
    for (const s of splits) this.#splits.push({ ...s });
  }
  notifyNoMoreSplits(): void {
    this.#noMore = true;
  }
  pollNext(output: ReaderOutput<number>): InputStatus {
    if (this.#splits.length === 0) return this.#noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
    const batch = this.pace.batch ?? 0;
    if (batch > 0 && this.#sincePause >= batch) {
      this.#sincePause = 0;
      return 'NOTHING_AVAILABLE';
    }
    this.#turn %= this.#splits.length;
    const s = this.#splits[this.#turn]!;
    output.collect(s.next, s.next);
    s.next++;
    this.#sincePause++;
    if (s.next > s.to) this.#splits.splice(this.#turn, 1);
    else this.#turn++;
    return this.#splits.length > 0 || !this.#noMore ? 'MORE_AVAILABLE' : 'END_OF_INPUT';
  }
  isAvailable(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.pace.pauseMs ?? 1));
  }
  snapshotState(): RangeSplit[] {
    return this.#splits.map((s) => ({ ...s }));
  }
}

/** [partition, next offset]: partition p holds from + p, from + p + partitions, ... up to `to`. */
type Position = [partition: number, offset: number];

export class PartitionSource extends RichParallelSourceFunction<number> implements CheckpointedFunction {
  #running = true;
  #restored = false;
  #positions: Position[] = [];
  #state!: ListState<Position>;

  constructor(
    readonly from: number,
    readonly to: number,
    readonly partitions: number,
    readonly mode: 'union' | 'split',
    readonly pace: Pace = {},
  ) {
    super();
  }

  initializeState(ctx: FunctionInitializationContext): void {
    const store = ctx.getOperatorStateStore();
    const descriptor = new ListStateDescriptor<Position>('offsets');
    this.#state = this.mode === 'union' ? store.getUnionListState(descriptor) : store.getListState(descriptor);
    this.#restored = ctx.isRestored();
    if (!this.#restored) return;
    const restored = this.#state.get().map(([p, o]): Position => [p, o]);
    if (this.mode === 'split') {
      this.#positions = restored;
      return;
    }
    // Union state: every subtask sees every partition's position and keeps its own partitions.
    this.#positions = restored.filter(([p]) => this.#owns(p));
  }

  #owns(partition: number): boolean {
    const rc = this.getRuntimeContext();
    return partition % rc.getNumberOfParallelSubtasks() === rc.getIndexOfThisSubtask();
  }

  snapshotState(): void {
    this.#state.update(this.#positions.map(([p, o]): Position => [p, o]));
  }

  async run(ctx: SourceContext<number>): Promise<void> {
    if (!this.#restored) {
      for (let p = 0; p < this.partitions; p++) if (this.#owns(p)) this.#positions.push([p, 0]);
    }
    const batch = this.pace.batch ?? 0;
    let sincePause = 0;
    let turn = 0;
    for (;;) {
      const open = this.#positions.filter(([p, o]) => this.#valueAt(p, o) <= this.to);
      if (!this.#running || open.length === 0) return;
      const pos = open[turn++ % open.length]!;
      await ctx.collect(this.#valueAt(pos[0], pos[1]));
      pos[1]++; // after collect() returns: a snapshot sees exactly the records emitted
      if (batch > 0 && ++sincePause >= batch) {
        sincePause = 0;
        await new Promise((r) => setTimeout(r, this.pace.pauseMs ?? 1));
      }
    }
  }

  #valueAt(partition: number, offset: number): number {
    return this.from + partition + offset * this.partitions;
  }

  cancel(): void {
    this.#running = false;
  }
}
