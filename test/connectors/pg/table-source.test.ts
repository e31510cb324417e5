/** PostgresTableSource on the shared server: the source contract suite, and a missing table named in the reader's error. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { InputStatus } from 'weir';
import { PostgresTableNotFoundError, PostgresTableSource } from 'weir/connectors/pg';
import { sourceContract } from '../../contracts/source.contract.ts';
import { SHARED_SERVER, sharedServerProblem, unavailable } from '../../support/postgres.ts';
import { createSourceTable, dropSourceTable, tableSourceCase } from './pg-cases.ts';

const problem = await sharedServerProblem();
if (problem !== undefined) {
  unavailable('PostgresTableSource', problem);
} else {
  await createSourceTable();
  after(dropSourceTable);
  sourceContract(tableSourceCase);

  describe('PostgresTableSource', () => {
    it('a missing table fails the reader with an error naming it', async () => {
      const source = new PostgresTableSource({ connection: SHARED_SERVER, table: 'no_such_table', splitColumn: 'id', numSplits: 1, lowerBound: 0, upperBound: 10 });
      const reader = source.createReader({ getIndexOfSubtask: () => 0, getNumberOfParallelSubtasks: () => 1 });
      reader.addSplits(source.createSplits(1));
      reader.notifyNoMoreSplits();
      const output = { collect: () => {} };
      let status: InputStatus = reader.pollNext(output);
      assert.equal(status, 'NOTHING_AVAILABLE', 'the first page is being fetched');
      await reader.isAvailable();
      assert.throws(
        () => {
          status = reader.pollNext(output);
        },
        (e: unknown) => e instanceof PostgresTableNotFoundError && /"no_such_table" does not exist/.test(e.message),
      );
      await reader.close?.();
    });
  });
}
