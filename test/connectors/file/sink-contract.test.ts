/**
 * The sink contract suite for FileSink (exactly once): with the DefaultRollingPolicy, whose parts
 * stay open across checkpoints (restores truncate them), and with the OnCheckpointRollingPolicy.
 */
import { sinkContract } from '../../contracts/sink.contract.ts';
import { fileSinkCase } from './fixtures/file-cases.ts';

sinkContract(fileSinkCase, { records: 2000 });

