/**
 * The sink contract suite for FileSink (exactly once), with the DefaultRollingPolicy: parts stay
 * open across checkpoints, so restores truncate and resume them, and roll by size and by time.
 * The OnCheckpointRollingPolicy runs in the jobs of file-source-jobs.test.ts.
 *
 * The failure cases run at p = 1 inline only: at p = 2 on worker threads they take 8-10 s each
 * on a loaded two-core machine, past this folder's time budget (they pass there too). Worker
 * threads still run the sink here: the rescale runs restore a p = 1 checkpoint at p = 2 on
 * threads and a p = 2 one at p = 1, and the suite's killed-process run resumes it. The suite's default of 3000 records: with fewer, a loaded machine can see every record
 * pass before the first checkpoint completes, and the operator fault (which waits for one) never
 * fires.
 */
import { sinkContract } from '../../contracts/sink.contract.ts';
import { fileSinkCase } from './fixtures/file-cases.ts';

sinkContract(fileSinkCase, { parallelisms: [1] });

