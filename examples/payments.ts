/**
 * The data of the end-to-end exactly-once example (end-to-end-exactly-once.ts): payment events
 * in, one charge row per payment out, with the account's running balance. Every payment is a
 * function of its number, so what the table must hold can be computed without the job.
 */

export interface Payment {
  readonly id: string;
  readonly account: string;
  readonly cents: number;
}

export interface Charge {
  readonly paymentId: string;
  readonly account: string;
  readonly cents: number;
  /** The account's balance after this payment: the sum of its payments so far, in stream order. */
  readonly balance: number;
}

export const ACCOUNTS = 50;

export function payment(n: number): Payment {
  return { id: `pay-${n}`, account: `acct-${(n * 7919) % ACCOUNTS}`, cents: ((n * 37) % 1000) + 1 };
}

/** The table the charges go to, created if missing. No key on purpose: a charge written twice would show. */
export function createTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (payment_id text NOT NULL, account text NOT NULL, cents bigint NOT NULL, balance bigint NOT NULL)`;
}

/** Where the example's job and its setup script find the servers, the stream and the table (node:util parseArgs options). */
export const CONNECTION_OPTIONS = {
  nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
  stream: { type: 'string', default: 'PAYMENTS' },
  pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  table: { type: 'string', default: 'account_charges' },
} as const;
