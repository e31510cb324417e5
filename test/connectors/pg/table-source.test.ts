/** The source contract suite for PostgresTableSource, on the shared server. */
import { after } from 'node:test';
import { sourceContract } from '../../contracts/source.contract.ts';
import { sharedServerProblem, unavailable } from '../../support/postgres.ts';
import { createSourceTable, dropSourceTable, tableSourceCase } from './pg-cases.ts';

const problem = await sharedServerProblem();
if (problem !== undefined) {
  unavailable('PostgresTableSource contract', problem);
} else {
  await createSourceTable();
  after(dropSourceTable);
  sourceContract(tableSourceCase);
}
