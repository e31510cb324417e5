/**
 * The sink contract suite for FileSink (exactly once), with the DefaultRollingPolicy: parts stay
 * open across checkpoints, so restores truncate and resume them, and roll by size and by time.
 * The OnCheckpointRollingPolicy runs in the jobs of file-source-jobs.test.ts. The suite's default
 * of 3000 records: with fewer, a loaded machine can see every record pass before the first
 * checkpoint completes, and the operator fault (which waits for one) never fires.
 */
import { sinkContract } from '../../contracts/sink.contract.ts';
import { fileSinkCase } from './fixtures/file-cases.ts';

sinkContract(fileSinkCase);

