/**
 * E2E fixture for unaligned checkpoints under failures (the scenarios of Flink's
 * UnalignedCheckpointITCase): checkpointed sources emit numbered records into one of several
 * topologies whose collecting sink is slow, so the network buffers are full when barriers arrive
 * and the unaligned checkpoints hold in-flight records. Run through runJob()/startJob() from
 * weir/testing; imported again in every worker thread.
 *
 *   args[0]: JSON options:
 *     { "topology": "pipeline" | "union" | "keyed" | "broadcast" | "connect",
 *       "parallelism": p (sources and operators),
 *       "receivers"?: parallelism of the broadcast receiver (default p),
 *       "sinkParallelism"?: parallelism of the slow sink (default 1),
 *       "checkpoints": T, the checkpoint id the sources run to (see below),
 *       "interval": checkpoint interval in ms, "dir": checkpoint directory,
 *       "spin": ms the sink spins per record,
 *       "failures": true to fail as below,
 *       "keys": keys per source in the keyed topology }
 *
 * Records are [source, seq, last, tag]: `source` numbers the source subtask across all source
 * operators, `seq` counts that subtask's records from 0, `last` is 1 on its final record only, and
 * `tag` is what the topology adds (keyed: the running count of the record's key; broadcast: the
 * index of the receiving subtask; otherwise 0).
 *
 *   pipeline:  source(p) -rescale-> fail(p) -rescale-> sink
 *   union:     four sources(p), unioned -rescale-> fail(p) -rescale-> sink
 *   keyed:     source(p) -keyBy(source, seq % keys)-> count per key(p) -> fail -rescale-> sink
 *   broadcast: source(p) -broadcast-> tag with receiver(receivers) -> fail -rescale-> sink
 *   connect:   source(p) and source(p) -rescale-> co-map(p) -> fail -rescale-> sink
 *
 * Every edge delivers the records one subtask sends to another in the order sent, and a source's
 * records take a single path to the sink (keyed: a single path per key; broadcast: per receiver),
 * so the collected output has each source's records in sequence order (keyed: per key; broadcast:
 * per receiver).
 *
 * Failures, placed by checkpoint ids (ids keep rising across restarts), once each: subtask 0 of
 * the fail map throws in map() in attempt 0 once a checkpoint with id >= T/4 completed, in
 * snapshotState() in attempt 1 for checkpoint T/2 or later, in map() in attempt 2 once a
 * checkpoint with id >= 3T/4 completed, and in attempt 3 — the recovery from that failure — on its
 * tenth record, which comes from the restored in-flight data when there is enough of it. That is
 * four restarts. Sources end once a checkpoint with id >= T completed, two of them in their own
 * attempt, and (with failures) only in the attempt after the last failure; a source still
 * running at checkpoint 4T ends anyway, so a failure that never fires shows as a wrong restart
 * count rather than a job that never ends.
 */
import {
  ListStateDescriptor,
  RestartStrategies,
  RichCoMapFunction,
  RichMapFunction,
  RichParallelSourceFunction,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type CheckpointedFunction,
  type CheckpointListener,
  type DataStream,
  type FunctionInitializationContext,
  type FunctionSnapshotContext,
  type ListState,
  type SourceContext,
  type ValueState,
} from 'weir';

export type Topology = 'pipeline' | 'union' | 'keyed' | 'broadcast' | 'connect';

export interface UnalignedOptions {
  readonly topology: Topology;
  readonly parallelism: number;
  readonly receivers?: number;
  readonly sinkParallelism?: number;
  readonly checkpoints: number;
  readonly interval: number;
  readonly dir: string;
  readonly spin: number;
  readonly failures: boolean;
  /** Keys per source in the keyed topology: key = source * keys + seq % keys. */
  readonly keys: number;
}

/** [source, seq, last (0 | 1), tag] */
export type Rec = [number, number, number, number];

/** Restarts a run with `failures` goes through. */
const FAILURE_RESTARTS = 4;

const options = JSON.parse(process.argv[2] ?? '{}') as UnalignedOptions;
const T = options.checkpoints;

class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

/**
 * Emits [source, seq, last, 0] for seq = 0, 1, ...; its position is operator list state, updated
 * after collect() returns (a checkpoint is taken before the next record). It ends as the header
 * describes, emitting its final record with last = 1.
 */
class SequenceSource extends RichParallelSourceFunction<Rec> implements CheckpointedFunction, CheckpointListener {
  #running = true;
  #next = 0;
  #state!: ListState<number>;
  #lastCompleted = 0;
  #completedHere = 0;
  constructor(readonly group: number) {
    super();
  }
  initializeState(ctx: FunctionInitializationContext): void {
    this.#state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<number>('next-seq'));
    const restored = this.#state.get();
    if (ctx.isRestored() && restored.length > 0) this.#next = restored[0]!;
  }
  snapshotState(): void {
    this.#state.update([this.#next]);
  }
  notifyCheckpointComplete(checkpointId: number): void {
    this.#lastCompleted = Math.max(this.#lastCompleted, checkpointId);
    this.#completedHere++;
  }
  #done(attempt: number): boolean {
    if (this.#lastCompleted >= 4 * T) return true;
    const failuresDone = !options.failures || attempt >= FAILURE_RESTARTS;
    return failuresDone && this.#lastCompleted >= T && this.#completedHere >= 2;
  }
  async run(ctx: SourceContext<Rec>): Promise<void> {
    const rc = this.getRuntimeContext();
    const source = this.group * rc.getNumberOfParallelSubtasks() + rc.getIndexOfThisSubtask();
    const attempt = rc.getAttemptNumber();
    while (this.#running) {
      const last = this.#done(attempt);
      await ctx.collect([source, this.#next, last ? 1 : 0, 0]);
      this.#next++;
      if (last) return;
    }
  }
  cancel(): void {
    this.#running = false;
  }
}

/** Passes records through; subtask 0 fails as the header describes, once per planned attempt. */
class FailingMap extends RichMapFunction<Rec, Rec> implements CheckpointedFunction, CheckpointListener {
  #attempt = -1;
  #lastCompleted = 0;
  #seen = 0;
  override open(): void {
    const rc = this.getRuntimeContext();
    this.#attempt = options.failures && rc.getIndexOfThisSubtask() === 0 ? rc.getAttemptNumber() : -1;
  }
  initializeState(): void {}
  snapshotState(ctx: FunctionSnapshotContext): void {
    if (this.#attempt === 1 && ctx.getCheckpointId() >= Math.ceil(T / 2)) {
      throw new InjectedFailure(`injected failure in snapshotState of checkpoint ${ctx.getCheckpointId()}`);
    }
  }
  notifyCheckpointComplete(checkpointId: number): void {
    this.#lastCompleted = Math.max(this.#lastCompleted, checkpointId);
  }
  map(value: Rec): Rec {
    if (this.#attempt === 0 && this.#lastCompleted >= Math.ceil(T / 4)) {
      throw new InjectedFailure(`injected failure in map after checkpoint ${this.#lastCompleted}`);
    }
    if (this.#attempt === 2 && this.#lastCompleted >= Math.ceil((3 * T) / 4)) {
      throw new InjectedFailure(`injected failure in map after checkpoint ${this.#lastCompleted}`);
    }
    if (this.#attempt === 3 && ++this.#seen >= 10) {
      throw new InjectedFailure('injected failure while recovering, on the tenth record');
    }
    return value;
  }
}

/** Counts the records of each key (keyed ValueState) into the record's tag. */
class CountPerKey extends RichMapFunction<Rec, Rec> {
  #count!: ValueState<number>;
  override open(): void {
    this.#count = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('count'));
  }
  map(r: Rec): Rec {
    const n = (this.#count.value() ?? 0) + 1;
    this.#count.update(n);
    return [r[0], r[1], r[2], n];
  }
}

/** Tags each broadcast record with the index of the subtask that received it. */
class TagReceiver extends RichMapFunction<Rec, Rec> {
  map(r: Rec): Rec {
    return [r[0], r[1], r[2], this.getRuntimeContext().getIndexOfThisSubtask()];
  }
}

/** Passes both inputs through unchanged (their source numbers already tell them apart). */
class MergeInputs extends RichCoMapFunction<Rec, Rec, Rec> {
  map1(r: Rec): Rec {
    return r;
  }
  map2(r: Rec): Rec {
    return r;
  }
}

/** The slow sink side: spins `spin` ms per record, so that upstream buffers stay full. */
class Spin extends RichMapFunction<Rec, Rec> {
  map(r: Rec): Rec {
    const until = performance.now() + options.spin;
    while (performance.now() < until) {
      // busy-wait: a map cannot await
    }
    return r;
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
const p = options.parallelism;
env.setParallelism(p);
env.enableCheckpointing(options.interval);
env.getCheckpointConfig().setCheckpointStorage(options.dir);
env.getCheckpointConfig().enableUnalignedCheckpoints().setAlignedCheckpointTimeout(0);
env.setRestartStrategy(RestartStrategies.fixedDelayRestart(FAILURE_RESTARTS + 2, 0));

const source = (group: number): DataStream<Rec> =>
  env.addSource(new SequenceSource(group)).uid(`source-${group}`).name(`source ${group}`);

let middle: DataStream<Rec>;
switch (options.topology) {
  case 'pipeline':
    middle = source(0).rescale();
    break;
  case 'union':
    middle = source(0).union(source(1), source(2), source(3)).rescale();
    break;
  case 'keyed':
    middle = source(0)
      .keyBy((r) => r[0] * options.keys + (r[1] % options.keys))
      .map(new CountPerKey())
      .uid('count-per-key');
    break;
  case 'broadcast':
    middle = source(0)
      .broadcast()
      .map(new TagReceiver())
      .uid('tag-receiver')
      .setParallelism(options.receivers ?? p);
    break;
  case 'connect':
    middle = source(0).rescale().connect(source(1).rescale()).map(new MergeInputs()).uid('merge-inputs');
    break;
  default:
    throw new Error(`unaligned-topologies: unknown topology ${JSON.stringify(options.topology)}`);
}

export const collected = await middle
  .map(new FailingMap())
  .uid('failing-map')
  .setParallelism(options.topology === 'broadcast' ? (options.receivers ?? p) : p)
  .rescale()
  .map(new Spin())
  .uid('slow-sink')
  .setParallelism(options.sinkParallelism ?? 1)
  .executeAndCollect(`unaligned ${options.topology}`);
