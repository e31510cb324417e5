/**
 * E2E fixture: one branch per partitioner, all in one job. A producer map (parallelism 2)
 * stamps each record with the producer's subtask index; the partitioner sends it to a consumer
 * map that adds its own subtask index, maxParallelism and thread id. Collected rows:
 *
 *   [partitioner, producerIndex, consumerIndex, value, consumerThreadId, consumerMaxParallelism, producerThreadId]
 *
 * Parallelism is fixed in code, so the job is the same in every mode.
 *   args[0]: records per branch (default 2000)
 */
import { threadId } from 'node:worker_threads';
import { RichMapFunction, StreamExecutionEnvironment, type DataStream } from 'weir';

const N = Number(process.argv[2] ?? 2000);

export type Row = [string, number, number, number, number, number, number];

class StampProducer extends RichMapFunction<number, [number, number, number]> {
  map(v: number): [number, number, number] {
    return [this.getRuntimeContext().getIndexOfThisSubtask(), v, threadId];
  }
}

class StampConsumer extends RichMapFunction<[number, number, number], Row> {
  constructor(readonly partitioner: string) {
    super();
  }
  map([producer, v, producerThread]: [number, number, number]): Row {
    const rc = this.getRuntimeContext();
    return [this.partitioner, producer, rc.getIndexOfThisSubtask(), v, threadId, rc.getMaxNumberOfParallelSubtasks(), producerThread];
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(2);

function producer(name: string): DataStream<[number, number, number]> {
  return env
    .fromSequence(0, N - 1)
    .name(`${name}-source`)
    .setParallelism(2)
    .map(new StampProducer())
    .name(`${name}-producer`)
    .setParallelism(2);
}

const consumers: Record<string, [(s: DataStream<[number, number, number]>) => DataStream<[number, number, number]>, number]> = {
  // forward needs equal parallelism; disableChaining below puts a (local) channel in between.
  forward: [(s) => s.forward(), 2],
  hash: [(s) => s.keyBy((t) => t[1] % 10), 3],
  rebalance: [(s) => s.rebalance(), 3],
  rescale: [(s) => s.rescale(), 4],
  broadcast: [(s) => s.broadcast(), 3],
  shuffle: [(s) => s.shuffle(), 3],
  global: [(s) => s.global(), 3],
};

const branches = Object.entries(consumers).map(([name, [partition, parallelism]]) =>
  partition(producer(name)).map(new StampConsumer(name)).name(`${name}-consumer`).setParallelism(parallelism).disableChaining(),
);

const [first, ...rest] = branches;
await first!
  .union(...rest)
  .map((r) => r)
  .name('gather')
  .setParallelism(1)
  .executeAndCollect('partitioners');
