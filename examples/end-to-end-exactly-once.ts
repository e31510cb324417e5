/**
 * End-to-end exactly-once, the seeds' Kafka two-phase-commit example ported to servers that run
 * anywhere: payment events are read from a NATS JetStream stream (a replayable source: its read
 * position is in every checkpoint), each account's running balance is kept in keyed state, and
 * every charge is written to PostgreSQL by two-phase commit (PREPARE TRANSACTION at each
 * checkpoint's barrier, COMMIT PREPARED when the checkpoint completes). Kill the job at any
 * moment, resume it with `weir run -s <checkpoint dir>`, and every payment is charged once:
 * no double charges, none lost.
 *
 *   node bin/node-ts.mjs examples/end-to-end-exactly-once-setup.ts --reset --events 20000 --pg <url>
 *   weir run examples/end-to-end-exactly-once.ts --pg <url> [--nats nats://127.0.0.1:4222]
 *       [--stream PAYMENTS] [--table account_charges] [--interval 500] [--unbounded]
 *   node bin/node-ts.mjs examples/end-to-end-exactly-once-setup.ts --check --events 20000 --pg <url>
 *
 * The PostgreSQL server must allow prepared transactions (max_prepared_transactions > 0; the
 * sink says how to set it otherwise). Bounded (the default) the job reads what the stream holds
 * when it starts and ends after its final checkpoint has committed the last charges.
 */
import { parseArgs } from 'node:util';
import { CheckpointConfig, KeyedProcessFunction, RestartStrategies, StreamExecutionEnvironment, ValueStateDescriptor, WatermarkStrategy, type Collector, type KeyedProcessContext, type ValueState } from 'weir';
import { JetStreamSource, jsonDeserializer } from 'weir/connectors/nats';
import { PostgresTwoPhaseCommitSink } from 'weir/connectors/pg';
import { CONNECTION_OPTIONS, type Charge, type Payment } from './payments.ts';

const { values: o } = parseArgs({
  args: process.argv.slice(2),
  options: {
    ...CONNECTION_OPTIONS,
    interval: { type: 'string', default: '500' },
    unbounded: { type: 'boolean', default: false },
  },
});

/** Keeps each account's balance in keyed state and emits one charge per payment. */
class RunningBalance extends KeyedProcessFunction<string, Payment, Charge> {
  #balance!: ValueState<number>;
  override open(): void {
    this.#balance = this.getRuntimeContext().getState(new ValueStateDescriptor<number>('balance'));
  }
  processElement(p: Payment, _ctx: KeyedProcessContext<string>, out: Collector<Charge>): void {
    const balance = (this.#balance.value() ?? 0) + p.cents;
    this.#balance.update(balance);
    out.collect({ paymentId: p.id, account: p.account, cents: p.cents, balance });
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(Number(o.interval));
// Checkpoints stay after a cancel or a kill, so that the job can be resumed with -s.
env.getCheckpointConfig().setExternalizedCheckpointRetention(CheckpointConfig.ExternalizedCheckpointCleanup.RETAIN_ON_CANCELLATION);
env.setRestartStrategy(RestartStrategies.fixedDelayRestart(3, 1000));

env
  .fromSource(
    // One split for the stream: payments are read in stream order, so balances are too.
    new JetStreamSource<Payment>({ servers: o.nats, stream: o.stream!, deserializer: jsonDeserializer<Payment>(), bounded: !o.unbounded }),
    WatermarkStrategy.noWatermarks<Payment>(),
    'payments',
  )
  .uid('payments')
  .setParallelism(1)
  .keyBy((p) => p.account)
  .process(new RunningBalance())
  .uid('running-balance')
  .sinkTo(
    new PostgresTwoPhaseCommitSink<Charge>({
      connection: o.pg!,
      sinkId: 'account-charges',
      table: o.table!,
      columns: ['payment_id', 'account', 'cents', 'balance'],
      toRow: (c) => [c.paymentId, c.account, c.cents, c.balance],
    }),
  )
  .uid('charges')
  .name('charges to PostgreSQL');

await env.execute('end-to-end exactly-once payments');
