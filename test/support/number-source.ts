/**
 * The checkpointed source of numbers that the job fixtures restarted from checkpoints share
 * (test/jobs/golden.ts, test/checkpoint/rocksdb-timer-job.ts). It is imported by job modules,
 * which every worker thread imports again, so it imports the API as they do ('weir') and has no
 * side effects of its own.
 */
import {
  ListStateDescriptor,
  RichParallelSourceFunction,
  type CheckpointedFunction,
  type FunctionInitializationContext,
  type ListState,
  type SourceContext,
} from 'weir';

/**
 * Emits from..to, subtask i taking every p-th number from from+i: increasing in each subtask,
 * so watermarks on its numbers as event times never make a record late. Its position is operator
 * list state ('next'), updated after each collect() returns (the contract for checkpoints of
 * source functions), so a restored subtask goes on where its checkpoint was taken.
 *
 * With `perMs` it sleeps 2 ms after every 2·perMs records (about perMs records per ms and
 * subtask, keeping a run long enough for checkpoints without busy-waiting); without, it goes as
 * fast as the task takes the records.
 */
export class NumberSource extends RichParallelSourceFunction<number> implements CheckpointedFunction {
  #running = true;
  #next = 0;
  #state!: ListState<number>;
  constructor(
    readonly from: number,
    readonly to: number,
    readonly perMs?: number,
  ) {
    super();
  }
  initializeState(ctx: FunctionInitializationContext): void {
    this.#state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<number>('next'));
    const restored = this.#state.get();
    if (ctx.isRestored() && restored.length > 0) this.#next = restored[0]!;
  }
  snapshotState(): void {
    this.#state.update([this.#next]);
  }
  async run(ctx: SourceContext<number>): Promise<void> {
    const rc = this.getRuntimeContext();
    const i = rc.getIndexOfThisSubtask();
    const p = rc.getNumberOfParallelSubtasks();
    if (this.#next === 0) this.#next = this.from + i;
    const perMs = this.perMs ?? Infinity;
    const batch = Math.max(1, Math.round(perMs * 2));
    let sinceSleep = 0;
    while (this.#running && this.#next <= this.to) {
      await ctx.collect(this.#next);
      this.#next += p;
      if (++sinceSleep >= batch && Number.isFinite(perMs)) {
        sinceSleep = 0;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }
  cancel(): void {
    this.#running = false;
  }
}
