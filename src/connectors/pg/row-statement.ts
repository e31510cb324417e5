/**
 * How records become rows: a table, its columns and a function from a record to the column
 * values, turned into multi-row INSERT statements (with ON CONFLICT for upserts).
 */
import type pg from 'pg';
import { quoteIdentifier, quoteQualified } from './postgres-connection.ts';

/** Records of type IN as rows of `table`: `toRow` gives one value per column, in `columns` order. */
export interface RowMapping<IN> {
  /** The table, optionally schema-qualified (`schema.table`); each part is quoted as given. */
  readonly table: string;
  readonly columns: readonly string[];
  toRow(record: IN): readonly unknown[];
}

/** Writes a batch of records with the given client, inside whatever transaction the sink holds. */
export type BatchWriter<IN> = (client: pg.ClientBase, batch: readonly IN[]) => Promise<void>;

/** PostgreSQL takes at most 65535 parameters per statement. */
const MAX_PARAMETERS = 65_535;

/** INSERT statements for `rows`, as many as the parameter limit needs, each with the given suffix. */
export function insertStatements(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], suffix = ''): { text: string; values: unknown[] }[] {
  if (columns.length === 0) throw new Error(`no columns to insert into ${quoteQualified(table)}`);
  const head = `INSERT INTO ${quoteQualified(table)} (${columns.map(quoteIdentifier).join(', ')}) VALUES `;
  const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  const out: { text: string; values: unknown[] }[] = [];
  for (let from = 0; from < rows.length; from += perStatement) {
    const chunk = rows.slice(from, from + perStatement);
    const values: unknown[] = [];
    const tuples = chunk.map((row) => {
      if (row.length !== columns.length) throw new Error(`a row for ${quoteQualified(table)} has ${row.length} values for ${columns.length} columns (${columns.join(', ')})`);
      const start = values.length;
      values.push(...row);
      return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`;
    });
    out.push({ text: head + tuples.join(', ') + suffix, values });
  }
  return out;
}

/** A BatchWriter inserting the rows of a RowMapping. */
export function insertingWriter<IN>(mapping: RowMapping<IN>): BatchWriter<IN> {
  return async (client, batch) => {
    for (const s of insertStatements(mapping.table, mapping.columns, batch.map((r) => mapping.toRow(r)))) await client.query(s.text, s.values);
  };
}
