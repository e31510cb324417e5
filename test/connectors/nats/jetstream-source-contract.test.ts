/**
 * The source contract suite (test/contracts/source.contract.ts) for bounded JetStream sources:
 * the whole stream as one split, and a split per subject.
 */
import { after } from 'node:test';
import { closeSharedConnections } from 'weir/connectors/nats';
import { NatsTestAdmin, requireNats } from '../../support/nats.ts';
import { sourceContract } from '../../contracts/source.contract.ts';
import { perSubjectCase, SOURCE_STREAM, sourceContent, wholeStreamCase } from './source-cases.ts';

if (await requireNats('JetStreamSource contract')) {
  const admin = await NatsTestAdmin.open();
  // Readers a failed check left open must not keep the process alive.
  after(async () => {
    await admin.close();
    await closeSharedConnections();
  });
  await admin.createStream(SOURCE_STREAM);
  await admin.fill(sourceContent());
  sourceContract(wholeStreamCase);
  sourceContract(perSubjectCase);
}
