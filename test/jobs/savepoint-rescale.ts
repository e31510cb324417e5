/**
 * Fixture for rescaling from a savepoint: three replayable sources and a sink whose state is
 * operator list state, each redistributed differently when the parallelism changes.
 *
 * - "seq": a split-based source of 1..N in 6 splits (the runtime deals the recorded splits out);
 * - "union-source": a parallel SourceFunction of N+1..2N in 6 partitions, positions in union
 *   list state (every subtask gets all and keeps its own partitions);
 * - "split-source": the same for 2N+1..3N with split list state (positions are dealt out);
 * - "buffering-sink": buffers numbers in split list state and writes them out in batches of 25
 *   (and the rest when the input ends), one JSON array per line, to `<out>/<run>-<subtask>.jsonl`.
 *
 * Every number must be written exactly once over a run that is stopped with a savepoint and the
 * run restored from it, whatever the two parallelisms.
 *
 *   args[0]: N
 *   args[1]: JSON options { "out": dir, "run": file name prefix, "batch"/"pauseMs": pace of the sources }
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ListStateDescriptor,
  RichSinkFunction,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type CheckpointedFunction,
  type FunctionInitializationContext,
  type ListState,
} from 'weir';
import { PacedSequence, PartitionSource } from './savepoint-sources.ts';

interface Options {
  readonly out: string;
  readonly run: string;
  readonly batch?: number;
  readonly pauseMs?: number;
}

const N = Number(process.argv[2] ?? 3000);
const options = JSON.parse(process.argv[3] ?? '{}') as Options;
const BATCH = 25;

/** Flink's BufferingSink: what is not yet written out is operator state. */
class BufferingSink extends RichSinkFunction<number> implements CheckpointedFunction {
  #buffer: number[] = [];
  #state!: ListState<number>;

  initializeState(ctx: FunctionInitializationContext): void {
    this.#state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<number>('buffer'));
    if (ctx.isRestored()) this.#buffer = [...this.#state.get()];
  }
  snapshotState(): void {
    this.#state.update(this.#buffer);
  }
  invoke(value: number): void {
    this.#buffer.push(value);
    if (this.#buffer.length >= BATCH) this.#flush();
  }
  finish(): void {
    this.#flush();
  }
  #flush(): void {
    if (this.#buffer.length === 0) return;
    const file = join(options.out, `${options.run}-${this.getRuntimeContext().getIndexOfThisSubtask()}.jsonl`);
    appendFileSync(file, JSON.stringify(this.#buffer) + '\n');
    this.#buffer = [];
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
const pace = options.batch === undefined ? {} : { batch: options.batch, pauseMs: options.pauseMs ?? 1 };

const seq = env.fromSource(new PacedSequence(1, N, 6, pace), WatermarkStrategy.noWatermarks<number>(), 'seq').uid('seq');
const union = env.addSource(new PartitionSource(N + 1, 2 * N, 6, 'union', pace), 'union-source').uid('union-source');
const split = env.addSource(new PartitionSource(2 * N + 1, 3 * N, 6, 'split', pace), 'split-source').uid('split-source');
seq.union(union, split).rebalance().addSink(new BufferingSink()).uid('buffering-sink').name('buffering-sink');

await env.execute('savepoint rescale');
