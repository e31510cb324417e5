/**
 * Test fixture: runs Nexmark queries over one generated event stream and collects every result,
 * tagged with its query: `[query, record]`. Run through runJob()/startJob() of weir/testing.
 *
 *   args[0]: comma-separated queries, e.g. "q0,q1,q2,q3,q4" (q4c: q4's closing prices alone)
 *   args[1]: events to generate
 *   args[2]: JSON options (all optional):
 *     { "seed": n, "eventRate": n, "rateLimited": true (emit at eventRate per wall-clock second),
 *       "interval": checkpoint interval in ms, "dir": checkpoint directory,
 *       "faults": [{ "attempt": n, "after": records, "query"?: name }
 *                  (a query's output fails after that many records in that attempt, once a
 *                   checkpoint completed in it, so that the restart restores one),
 *                  { "attempt": n, "async": checkpoint id } (the asynchronous phase of the
 *                   first checkpoint from that id on fails)] }
 *
 * Imported again in every worker thread; a fault fires in its attempt only.
 */
import { RestartStrategies, RichMapFunction, StreamExecutionEnvironment, type CheckpointListener, type DataStream } from 'weir';
import { nexmarkEvents, q4ClosingPrices, query, type QueryName } from 'weir/nexmark';
import { injectFaults } from 'weir/testing';

interface Fault {
  readonly attempt: number;
  readonly after?: number;
  readonly query?: string;
  readonly async?: number;
}

interface Options {
  readonly seed?: number;
  readonly eventRate?: number;
  readonly rateLimited?: boolean;
  readonly interval?: number;
  readonly dir?: string;
  readonly faults?: readonly Fault[];
}

const queries = (process.argv[2] ?? 'q0').split(',');
const events = Number(process.argv[3] ?? 10_000);
const options = JSON.parse(process.argv[4] ?? '{}') as Options;
const faults = options.faults ?? [];

class InjectedFailure extends Error {
  override readonly name = 'InjectedFailure';
}

injectFaults({
  asyncSnapshot(p) {
    for (const f of faults) {
      if (f.async !== undefined && f.attempt === p.attemptNumber && p.checkpointId >= f.async) {
        throw new InjectedFailure(`injected failure in the asynchronous phase of checkpoint ${p.checkpointId} in ${p.taskName}`);
      }
    }
  },
});

/** Tags a query's records; fails after `after` records of a subtask in the fault's attempt, once a checkpoint completed there. */
class TagAndFail extends RichMapFunction<unknown, [string, unknown]> implements CheckpointListener {
  #seen = 0;
  #checkpointed = false;
  #faults: Fault[] = [];
  constructor(readonly tag: string) {
    super();
  }
  override open(): void {
    const attempt = this.getRuntimeContext().getAttemptNumber();
    this.#faults = faults.filter((f) => f.after !== undefined && f.attempt === attempt && (f.query ?? this.tag) === this.tag);
  }
  map(value: unknown): [string, unknown] {
    if (this.#faults.length > 0) {
      const n = ++this.#seen;
      if (this.#checkpointed && this.#faults.some((f) => n >= f.after!)) throw new InjectedFailure(`injected ${this.tag} failure after ${n} records`);
    }
    return [this.tag, value];
  }
  notifyCheckpointComplete(): void {
    this.#checkpointed = true;
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
if (options.interval !== undefined) {
  env.enableCheckpointing(options.interval);
  if (options.dir !== undefined) env.getCheckpointConfig().setCheckpointStorage(options.dir);
  env.setRestartStrategy(RestartStrategies.fixedDelayRestart(5, 0));
}
const source = nexmarkEvents(env, {
  maxEvents: events,
  ...(options.seed === undefined ? {} : { seed: options.seed }),
  ...(options.eventRate === undefined ? {} : { eventRate: options.eventRate }),
  ...(options.rateLimited === undefined ? {} : { rateLimited: options.rateLimited }),
});
const tagged = queries.map((q) => {
  const out = (q === 'q4c' ? q4ClosingPrices(source, { uidPrefix: 'q4c' }) : query(q as QueryName)(source)) as unknown as DataStream<unknown>;
  return out.map(new TagAndFail(q)).uid(`${q}-tag`);
});
const [first, ...rest] = tagged;
await first!.union(...rest).executeAndCollect(`nexmark ${queries.join(',')}`);
