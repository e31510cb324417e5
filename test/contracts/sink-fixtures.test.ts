/**
 * The sink contract suite against test fixtures (test/contracts/fixtures/): the staging file
 * sink, a two-phase file sink; the same sink with a committer that asks for each commit to be
 * retried first; and an at-least-once batching file sink whose buffered records live in writer
 * state.
 */
import { batchingFileSinkCase } from './fixtures/batching-file-sink.ts';
import { retryingStagingFileSinkCase, stagingFileSinkCase } from './fixtures/staging-file-sink.ts';
import { sinkContract } from './sink.contract.ts';

sinkContract(stagingFileSinkCase);
// The retry path is the operator's, not the parallelism's: one parallelism is enough there.
// The same writer as the first case: the whole-process runs add nothing for these two.
sinkContract(retryingStagingFileSinkCase, { parallelisms: [1], processRuns: false });
sinkContract(batchingFileSinkCase, { parallelisms: [1], processRuns: false });
