/**
 * The sink contract suite for PostgresTwoPhaseCommitSink, on a private PostgreSQL instance that
 * allows prepared transactions (the shared server has max_prepared_transactions = 0).
 */
import { after } from 'node:test';
import { sinkContract } from '../../contracts/sink.contract.ts';
import { postgresBinaries, startPrivateInstance, unavailable, type PrivateInstance } from '../../support/postgres.ts';
import { twoPhaseCommitSinkCase, usePrivateInstance } from './pg-cases.ts';

let instance: PrivateInstance | undefined;
let problem: string | undefined;
if ((await postgresBinaries()) === undefined) problem = 'the PostgreSQL server binaries (initdb, pg_ctl) are not installed';
else {
  try {
    instance = await startPrivateInstance({ max_prepared_transactions: 20 });
  } catch (e) {
    problem = `a private PostgreSQL instance did not start: ${(e as Error).message}`;
  }
}

if (instance === undefined) {
  unavailable('PostgresTwoPhaseCommitSink contract', problem ?? 'no private instance');
} else {
  const started = instance;
  after(() => started.destroy());
  usePrivateInstance(started.port);
  // Two records per millisecond (half the default): the injected faults need the input to outlast
  // the first checkpoints, which come late on a loaded machine. The failure cases run at p=2 on
  // worker threads only (two writers, each with its own transactions, failing over together); the
  // rescale cases run p=1 as well.
  sinkContract(twoPhaseCommitSinkCase, { perMs: 2, parallelisms: [2] });
}
