/**
 * JetStreamSink as cases of the sink contract suite. Each job writes into a fresh stream (the
 * target is its name; records go to `<stream>.out`), created and deleted by the main thread;
 * readVisible is every message the stream holds. Jobs rebuild the sink in every worker from the
 * target alone.
 *
 * Two ways to name records for de-duplication:
 *  - recordId() (the default) is the same on replay only when each sink subtask is fed in a
 *    deterministic order, so that case runs with forward channels. Even then a restore at another
 *    parallelism numbers records anew (SinkWriterElementContext.recordId()), so the records
 *    published after the restored checkpoint are stored again: exactly once at the same
 *    parallelism (the case's guarantee), at least once across a rescale (the suite's
 *    rescaleGuarantee option).
 *  - an id from the record's content (the records are distinct strings) holds under any exchange
 *    and any restore: EXACTLY_ONCE.
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

/** Readers of the targets that fetch only new messages: the suite polls readVisible every 25 ms. */
const followers = new Map<string, () => Promise<string[]>>();
async function readVisible(target: string): Promise<string[]> {
  let follow = followers.get(target);
  if (follow === undefined) {
    follow = (await sinkAdmin()).follower(target);
    followers.set(target, follow);
  }
  return follow();
}

const common = {
  module,
  createTarget: async () => (await sinkAdmin()).createStream(uniqueStreamName('sink')),
  readVisible,
  dropTarget: async (target: string) => {
    followers.delete(target);
    await (await sinkAdmin()).deleteStream(target);
  },
} as const;

export const recordIdSinkCase: SinkContractCase = {
  ...common,
  name: 'JetStreamSink (Nats-Msg-Id from recordId(), fed forward; a rescale may repeat records)',
  guarantee: 'EXACTLY_ONCE',
  exportName: 'recordIdSinkCase',
  createSink: (target) => new JetStreamSink<string>({ servers: NATS_URL, stream: target, subject: `${target}.out` }),
};

export const contentIdSinkCase: SinkContractCase = {
  ...common,
  name: 'JetStreamSink (Nats-Msg-Id from the record, rebalanced)',
  guarantee: 'EXACTLY_ONCE',
  exportName: 'contentIdSinkCase',
  createSink: (target) => new JetStreamSink<string>({ servers: NATS_URL, stream: target, subject: `${target}.out`, messageId: (r) => r }),
};
