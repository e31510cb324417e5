/**
 * E2E fixture: a key selector that does not return the same key for the same record (a random
 * one of 16 keys). Every key it returns belongs to the first of two keyed subtasks, so no record
 * is ever sent to the wrong subtask; only the key group a record's key is filed under differs
 * between the partitioner's call and the consumer's. Both source subtasks feed that one keyed subtask, so half the records
 * cross threads, where the key group travels and the key is selected again.
 */
import { KeyedProcessFunction, StreamExecutionEnvironment, type Collector } from 'weir';
import { assignToKeyGroup, computeOperatorIndexForKeyGroup } from '../../src/core/key-group.ts';

const MAX_PARALLELISM = 128;
const FIRST_SUBTASKS_KEYS: number[] = [];
for (let k = 0; FIRST_SUBTASKS_KEYS.length < 16; k++) {
  if (computeOperatorIndexForKeyGroup(MAX_PARALLELISM, 2, assignToKeyGroup(k, MAX_PARALLELISM)) === 0) FIRST_SUBTASKS_KEYS.push(k);
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(2);
env.setMaxParallelism(MAX_PARALLELISM);
env
  .fromSequence(1, 200_000)
  .keyBy(() => FIRST_SUBTASKS_KEYS[Math.floor(Math.random() * FIRST_SUBTASKS_KEYS.length)]!)
  .process(
    new (class extends KeyedProcessFunction<number, number, number> {
      processElement(x: number, _ctx: unknown, out: Collector<number>): void {
        out.collect(x);
      }
    })(),
  )
  .name('count-by-call')
  .addSink(() => {});
await env.execute('nondeterministic key selector');
