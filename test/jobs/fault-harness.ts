/**
 * A bounded job with a two-phase sink for the fault-injection harness of weir/testing: the
 * strings `record-0` … `record-<count-1>` from a paced replayable source into the staging file
 * sink fixture, checkpoints every 50 ms, and one injected failure.
 *
 *   args[0]: the sink's target directory
 *   args[1]: JSON { "count": n, "plan": FaultPlan | { "at": "record", "after": n } }
 */
import { RestartStrategies, StreamExecutionEnvironment, WatermarkStrategy } from 'weir';
import { FailAfterRecords, faultsAt, injectFaults, type FaultPlan } from 'weir/testing';
import { PacedSequenceSource } from '../contracts/fixtures/paced-sequence-source.ts';
import { StagingFileSink } from '../contracts/fixtures/staging-file-sink.ts';

const [target, json] = process.argv.slice(2);
const { count, plan } = JSON.parse(json!) as { count: number; plan: FaultPlan | { at: 'record'; after: number } };

if (plan.at !== 'record') injectFaults(faultsAt(plan));

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(50);
env.setRestartStrategy(RestartStrategies.fixedDelayRestart(3, 0));
let records = env
  .fromSource(new PacedSequenceSource(count, 2, true), WatermarkStrategy.noWatermarks<number>(), 'records')
  .uid('records')
  .map((n) => `record-${n}`)
  .uid('to-string');
if (plan.at === 'record') records = records.map(new FailAfterRecords<string>(plan.after, { subtask: -1 })).uid('fail-after');
records.sinkTo(new StagingFileSink(target!)).uid('sink').name('staging sink');
await env.execute('fault harness');
