/**
 * A keyed job as users write it (user-keyed-common.ts): a RichMapFunction building the records,
 * event time with bounded out-of-orderness, keyBy, a KeyedProcessFunction with two ValueStates
 * and an event-time timer per key, and a sink adding up what the timers emit. Exactly-once
 * checkpoints every `interval` ms written under `dir`, or none when `interval` is 0.
 *
 *   weir run bench/jobs/user-keyed.ts <records> <runId> <numbers|events> <keys> [interval ms | 0] [checkpoint dir]
 */
import { StreamExecutionEnvironment } from 'weir';
import { enableCheckpointingFromArgs, executeTimed, jobArgs } from './common.ts';
import { addUserKeyed, parseKeys, parseKind } from './user-keyed-common.ts';

const { n, runId } = jobArgs();
const [, , kind, keys, interval = '0', dir] = process.argv.slice(2);
const env = StreamExecutionEnvironment.getExecutionEnvironment();
enableCheckpointingFromArgs(env, interval, dir);
addUserKeyed(env, n, runId, parseKind(kind), parseKeys(keys));
await executeTimed(env, 'bench user-keyed', runId);
