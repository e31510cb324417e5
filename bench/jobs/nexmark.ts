/**
 * A Nexmark query over generated events, into a sink that digests the output (count and
 * checksum, see nexmark-common.ts), with exactly-once checkpoints every `interval` ms (0: off).
 *
 *   weir run bench/jobs/nexmark.ts <events> <runId> <q0|q1|q2|q3|q4> <interval ms | 0> [checkpoint dir]
 */
import { StreamExecutionEnvironment } from 'weir';
import { QUERY_NAMES, nexmarkEvents, q4, query, type QueryName } from 'weir/nexmark';
import { enableCheckpointingFromArgs, executeTimed, jobArgs } from './common.ts';
import { BENCH_Q4_RETENTION_MS, DigestSink, benchConfig } from './nexmark-common.ts';

const { n, runId } = jobArgs();
const [, , name = 'q0', interval = '0', dir] = process.argv.slice(2);
if (!(QUERY_NAMES as readonly string[]).includes(name)) throw new RangeError(`unknown query ${name}; there are ${QUERY_NAMES.join(', ')}`);
const q = name as QueryName;

const env = StreamExecutionEnvironment.getExecutionEnvironment();
enableCheckpointingFromArgs(env, interval, dir);
const events = nexmarkEvents(env, benchConfig(n));
const output = q === 'q4' ? q4(events, { closedRetentionMs: BENCH_Q4_RETENTION_MS }) : query(q)(events);
output.addSink(new DigestSink(runId, q)).name('Digest').uid(`${q}-digest`);
await executeTimed(env, `bench nexmark ${q}`, runId);
