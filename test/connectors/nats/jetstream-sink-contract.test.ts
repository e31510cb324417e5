/**
 * The sink contract suite (test/contracts/sink.contract.ts) for JetStreamSink, exactly once by
 * de-duplication: with recordId() ids over forward channels, and with ids from the records'
 * content over the default rebalance.
 */
import { after } from 'node:test';
import { closeSharedConnections } from 'weir/connectors/nats';
import { sinkContract } from '../../contracts/sink.contract.ts';
import { requireNats } from '../../support/nats.ts';
import { closeSinkAdmin, contentIdSinkCase, recordIdSinkCase } from './sink-cases.ts';

if (await requireNats('JetStreamSink contract')) {
  after(async () => {
    await closeSinkAdmin();
    await closeSharedConnections();
  });
  // 1000 records at 2 per ms and source subtask: half a second per job, ten checkpoints.
  const options = { records: 1000, perMs: 2 } as const;
  sinkContract(recordIdSinkCase, { ...options, exchange: 'forward' });
  sinkContract(contentIdSinkCase, options);
}
