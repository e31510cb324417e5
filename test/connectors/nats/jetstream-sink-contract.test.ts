/**
 * The sink contract suite (test/contracts/sink.contract.ts) for JetStreamSink, which is exactly
 * once by de-duplication: with recordId() ids over forward channels (at least once across a
 * rescale, see sink-cases.ts), and with ids from the records' content over the default rebalance.
 * The failure runs take one parallelism each, to keep the file's time down: recordId() ids at
 * p = 1 (the replay test covers them at p = 2), content ids at p = 2 on worker threads, where
 * rebalancing makes the order of records at a sink subtask differ on replay. The whole-process
 * runs take the recordId case only (the same writer, see SinkContractOptions.processRuns).
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
  // Slower than the suite's default of 4 records per ms and source subtask: every record is a
  // publish awaiting its acknowledgement, and on a busy two-core machine a sink subtask that falls
  // behind holds up the checkpoint barriers queued behind its input, so that no checkpoint would
  // complete before the input runs out (and the injected faults, which wait for one, never fire).
  sinkContract(recordIdSinkCase, { exchange: 'forward', parallelisms: [1], perMs: 2, rescaleGuarantee: 'AT_LEAST_ONCE' });
  // The whole-process runs (stop with a savepoint, SIGKILL and `weir run -s`) are the recordId
  // case's: the same JetStreamSink writer and state go through the process boundary there; what
  // differs here, ids from the content under rebalancing, meets restores in the failure runs at p=2.
  sinkContract(contentIdSinkCase, { parallelisms: [2], records: 2000, perMs: 1, processRuns: false });
}
