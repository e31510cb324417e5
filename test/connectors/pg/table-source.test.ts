/** PostgresTableSource on the shared server: the source contract suite, and a missing table named in the reader's error. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { InputStatus, Source } from 'weir';
import { PostgresTableNotFoundError, PostgresTableSource, type PostgresTableSplit } from 'weir/connectors/pg';
import { sourceContract } from '../../contracts/source.contract.ts';
import { SHARED_SERVER, sharedServerProblem, unavailable } from '../../support/postgres.ts';
import { createSourceTable, dropSourceTable, tableSourceCase } from './pg-cases.ts';

/** Reads a source to the end with `p` readers at once. */
async function readAll<T>(source: Source<T, PostgresTableSplit>, p: number): Promise<number> {
  let n = 0;
  const output = { collect: () => void n++ };
  await Promise.all(
    Array.from({ length: p }, async (_, i) => {
      const reader = source.createReader({ getIndexOfSubtask: () => i, getNumberOfParallelSubtasks: () => p });
      reader.addSplits(source.createSplits(p).filter((_, j) => j % p === i));
      reader.notifyNoMoreSplits();
      for (let status = reader.pollNext(output); status !== 'END_OF_INPUT'; status = reader.pollNext(output)) {
        if (status === 'NOTHING_AVAILABLE') await reader.isAvailable();
      }
      await reader.close?.();
    }),
  );
  return n;
}

const problem = await sharedServerProblem();
if (problem !== undefined) {
  unavailable('PostgresTableSource', problem);
} else {
  await createSourceTable();
  after(dropSourceTable);
  // Readers of this thread share a connection pool: one full read first leaves it warm, so the
  // contract's timing checks measure reading, not connecting.
  await readAll(tableSourceCase.create(), 4);
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
