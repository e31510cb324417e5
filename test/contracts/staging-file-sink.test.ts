/**
 * The sink contract suite against the staging file sink, a two-phase file sink that exists only
 * as a test fixture (test/contracts/fixtures/staging-file-sink.ts), and against the same sink
 * with a committer that asks for each commit to be retried first.
 */
import { retryingStagingFileSinkCase, stagingFileSinkCase } from './fixtures/staging-file-sink.ts';
import { sinkContract } from './sink.contract.ts';

sinkContract(stagingFileSinkCase);
// The retry path is the operator's, not the parallelism's: one parallelism is enough there.
sinkContract(retryingStagingFileSinkCase, { parallelisms: [1] });
