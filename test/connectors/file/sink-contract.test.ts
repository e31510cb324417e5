/**
 * The sink contract suite for FileSink (exactly once), with the DefaultRollingPolicy: parts stay
 * open across checkpoints, so restores truncate and resume them, and roll by size and by time.
 * The OnCheckpointRollingPolicy runs in the jobs of file-source-jobs.test.ts. 2000 records keep
 * the suite's fifteen jobs to about 40 s.
 */
import { sinkContract } from '../../contracts/sink.contract.ts';
import { fileSinkCase } from './fixtures/file-cases.ts';

sinkContract(fileSinkCase, { records: 2000 });

