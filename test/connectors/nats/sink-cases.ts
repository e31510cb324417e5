/**
 * JetStreamSink as cases of the sink contract suite. Each job writes into a fresh stream (the
 * target is its name; records go to `<stream>.out`), created and deleted by the main thread;
 * readVisible is every message the stream holds. Jobs rebuild the sink in every worker from the
 * target alone.
 *
 * Two ways to name records for de-duplication: recordId() (the default), which is deterministic
 * on replay only when each sink subtask is fed in a deterministic order, so that case runs with
 * forward channels; and an id from the record's content (the records are distinct strings), which
 * holds under any exchange.
 */
import { fileURLToPath } from 'node:url';
import { JetStreamSink } from 'weir/connectors/nats';
import type { SinkContractCase } from '../../contracts/sink.contract.ts';
import { NATS_URL, NatsTestAdmin, uniqueStreamName } from '../../support/nats.ts';

let admin: Promise<NatsTestAdmin> | undefined;
/** The main thread's connection for creating, reading and deleting targets. */
export function sinkAdmin(): Promise<NatsTestAdmin> {
  admin ??= NatsTestAdmin.open();
  return admin;
}

/** Closes the admin connection, deleting any target left behind. */
export async function closeSinkAdmin(): Promise<void> {
  const a = admin;
  admin = undefined;
  await (await a)?.close();
}

const module = fileURLToPath(import.meta.url);

const common = {
  guarantee: 'EXACTLY_ONCE',
  module,
  createTarget: async () => (await sinkAdmin()).createStream(uniqueStreamName('sink')),
  readVisible: async (target: string) => (await (await sinkAdmin()).readAll(target)).map((m) => m.data),
  dropTarget: async (target: string) => (await sinkAdmin()).deleteStream(target),
} as const;

export const recordIdSinkCase: SinkContractCase = {
  ...common,
  name: 'JetStreamSink (Nats-Msg-Id from recordId(), fed forward)',
  exportName: 'recordIdSinkCase',
  createSink: (target) => new JetStreamSink<string>({ servers: NATS_URL, stream: target, subject: `${target}.out` }),
};

export const contentIdSinkCase: SinkContractCase = {
  ...common,
  name: 'JetStreamSink (Nats-Msg-Id from the record, rebalanced)',
  exportName: 'contentIdSinkCase',
  createSink: (target) => new JetStreamSink<string>({ servers: NATS_URL, stream: target, subject: `${target}.out`, messageId: (r) => r }),
};
