/**
 * Bounded JetStream sources as cases of the source contract suite, over one stream that the test
 * file creates and fills before the suite runs: 1200 JSON messages on three subjects, unevenly
 * (a: 2 of 5, b: 2 of 5, c: 1 of 5). The content is a function of the index, and a fresh stream
 * numbers messages from 1, so the expected records are known without the server. Jobs of the
 * suite import this module again in every worker; the stream name comes from the run id (see
 * test/support/nats.ts), so it is the same there.
 */
import { fileURLToPath } from 'node:url';
import { JetStreamSource, jsonDeserializer, type JetStreamSplit } from 'weir/connectors/nats';
import { NATS_URL, streamName } from '../../support/nats.ts';
import type { SourceContractCase } from '../../contracts/source.contract.ts';

export const SOURCE_STREAM = streamName('src');
export const SOURCE_MESSAGES = 1200;

const SUBJECTS = ['a', 'b', 'c'] as const;
const subjectOf = (i: number): string => SUBJECTS[i % 5 < 2 ? 0 : i % 5 < 4 ? 1 : 2]!;

/** What the test publishes, in order: message i is stored at sequence i + 1. */
export function sourceContent(): { subject: string; data: string }[] {
  return Array.from({ length: SOURCE_MESSAGES }, (_, i) => ({ subject: `${SOURCE_STREAM}.${subjectOf(i)}`, data: JSON.stringify({ n: i, text: `message ${i}` }) }));
}

/** A record: the subject's last token, the stream sequence and the payload's number. */
const json = jsonDeserializer<{ n: number }>();
const deserializer = (m: Parameters<typeof json>[0]): string => `${m.subject.slice(SOURCE_STREAM.length + 1)}#${m.seq}#${json(m).n}`;

const expected = (): string[] => Array.from({ length: SOURCE_MESSAGES }, (_, i) => `${subjectOf(i)}#${i + 1}#${i}`);
const module = fileURLToPath(import.meta.url);

export const wholeStreamCase: SourceContractCase<string, JetStreamSplit> = {
  name: 'JetStreamSource (bounded, whole stream: one split)',
  module,
  exportName: 'wholeStreamCase',
  // Messages come over the network: give a reader time to have its next batch.
  idleMs: 250,
  create: () => new JetStreamSource({ servers: NATS_URL, stream: SOURCE_STREAM, bounded: true, deserializer, fetchBatch: 1024 }),
  expected,
  key: (r) => r,
};

export const perSubjectCase: SourceContractCase<string, JetStreamSplit> = {
  name: 'JetStreamSource (bounded, a split per subject, one of them empty)',
  module,
  exportName: 'perSubjectCase',
  // Messages come over the network: give a reader time to have its next batch.
  idleMs: 250,
  create: () =>
    new JetStreamSource({
      servers: NATS_URL,
      stream: SOURCE_STREAM,
      subjects: [...SUBJECTS, 'empty'].map((s) => `${SOURCE_STREAM}.${s}`),
      bounded: true,
      deserializer,
      fetchBatch: 512,
    }),
  expected,
  key: (r) => r,
};
