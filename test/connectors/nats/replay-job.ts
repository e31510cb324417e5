/**
 * The job of the replay test (jetstream-connector.test.ts): an unbounded JetStreamSource reading
 * two subjects of the input stream (a split each, one per source subtask) at p = 2, forwarded to a
 * JetStreamSink that names records by recordId(), with checkpoints every 50 ms. The test publishes
 * the input while the job runs. In attempt 0, subtask 0 fails after `failAfter` records that came
 * after a completed checkpoint. Every record the job processes is counted on globalThis under the
 * run key (inline mode: the test's own thread), so the test can tell that records were replayed.
 *
 *   args: inputStream, outputStream, runKey, JSON { "failAfter": n }
 *
 * The output holds each input record once only if the restored source resumed exactly at its
 * checkpointed sequences: recordId() numbers records by their position in the subtask's input, so
 * a replay that started early or late would give ids to the wrong records.
 */
import { RestartStrategies, RichMapFunction, StreamExecutionEnvironment, WatermarkStrategy, type CheckpointListener } from 'weir';
import { JetStreamSink, JetStreamSource, jsonDeserializer } from 'weir/connectors/nats';
import { NATS_URL } from '../../support/nats.ts';

const [input, output, runKey, json] = process.argv.slice(2) as [string, string, string, string];
const options = JSON.parse(json) as { failAfter: number };

const shared = globalThis as { __weirNatsReplay?: Map<string, number> };
shared.__weirNatsReplay ??= new Map();
const counts = shared.__weirNatsReplay;

class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

class FailOnce extends RichMapFunction<{ n: number }, string> implements CheckpointListener {
  #armed = false;
  #checkpointed = false;
  #after = 0;
  override open(): void {
    const rc = this.getRuntimeContext();
    this.#armed = rc.getAttemptNumber() === 0 && rc.getIndexOfThisSubtask() === 0;
  }
  map(value: { n: number }): string {
    counts.set(runKey, (counts.get(runKey) ?? 0) + 1);
    if (this.#armed && this.#checkpointed && ++this.#after > options.failAfter) throw new InjectedFailure(`injected failure after ${this.#after - 1} records since a checkpoint`);
    return `record-${value.n}`;
  }
  notifyCheckpointComplete(): void {
    this.#checkpointed = true;
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(50);
env.setRestartStrategy(RestartStrategies.fixedDelayRestart(3, 0));
env
  .fromSource(
    new JetStreamSource({ servers: NATS_URL, stream: input, subjects: [`${input}.a`, `${input}.b`], deserializer: jsonDeserializer<{ n: number }>(), fetchBatch: 64 }),
    WatermarkStrategy.noWatermarks(),
    'jetstream in',
  )
  .uid('in')
  .map(new FailOnce())
  .uid('fail-once')
  .forward()
  .sinkTo(new JetStreamSink<string>({ servers: NATS_URL, stream: output, subject: `${output}.out` }))
  .uid('out');

await env.execute('jetstream replay');
