/**
 * Prepares and checks the end-to-end exactly-once example (end-to-end-exactly-once.ts).
 *
 *   --reset --events N   (re)creates the stream with N payments and an empty charges table
 *   --check --events N   checks the table: every payment charged exactly once, every balance right
 *
 * Options: --nats <url> --stream <name> --pg <url> --table <name> (defaults as the job's).
 * --check exits with 1 and says what is wrong when the table is not exact.
 */
import { parseArgs } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { CONNECTION_OPTIONS, createTableSql, payment } from './payments.ts';

const { values: o } = parseArgs({
  args: process.argv.slice(2),
  options: {
    ...CONNECTION_OPTIONS,
    events: { type: 'string', default: '20000' },
    reset: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
  },
});
const events = Number(o.events);
const db = new pg.Client({ connectionString: o.pg });
await db.connect();
try {
  if (o.reset) {
    const nc = await connect({ servers: o.nats });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(o.stream!).catch(() => false);
      await jsm.streams.add({ name: o.stream!, subjects: [`${o.stream!.toLowerCase()}.>`] });
      const js = jetstream(nc);
      const acks: Promise<unknown>[] = [];
      for (let n = 0; n < events; n++) {
        acks.push(js.publish(`${o.stream!.toLowerCase()}.${payment(n).account}`, JSON.stringify(payment(n))));
        if (acks.length >= 500) await Promise.all(acks.splice(0));
      }
      await Promise.all(acks);
    } finally {
      await nc.close();
    }
    await db.query(createTableSql(o.table!));
    await db.query(`TRUNCATE ${o.table!}`);
    console.log(`stream ${o.stream} holds ${events} payments; table ${o.table} is empty`);
  }
  if (o.check) {
    const { rows } = await db.query<{ payment_id: string; account: string; cents: string; balance: string }>(`SELECT payment_id, account, cents, balance FROM ${o.table!}`);
    const seen = new Map<string, number>();
    for (const r of rows) seen.set(r.payment_id, (seen.get(r.payment_id) ?? 0) + 1);
    const twice = [...seen].filter(([, k]) => k > 1).map(([id]) => id);
    const missing: string[] = [];
    const expectedBalance = new Map<string, number>();
    const balanceOf = new Map<string, number>();
    for (let n = 0; n < events; n++) {
      const p = payment(n);
      if (!seen.has(p.id)) missing.push(p.id);
      const b = (expectedBalance.get(p.account) ?? 0) + p.cents;
      expectedBalance.set(p.account, b);
      balanceOf.set(p.id, b);
    }
    const wrong = rows.filter((r) => balanceOf.get(r.payment_id) !== Number(r.balance)).map((r) => r.payment_id);
    const foreign = [...seen.keys()].filter((id) => !balanceOf.has(id));
    const ok = twice.length === 0 && missing.length === 0 && wrong.length === 0 && foreign.length === 0;
    const few = (xs: string[]): string => `${xs.length}${xs.length > 0 ? ` (${xs.slice(0, 3).join(', ')}…)` : ''}`;
    console.log(`${rows.length} charges for ${events} payments: charged twice ${few(twice)}, missing ${few(missing)}, wrong balance ${few(wrong)}, unknown ${few(foreign)}`);
    console.log(ok ? 'exactly once: every payment charged once, every balance right' : 'NOT exactly once');
    if (!ok) process.exitCode = 1;
  }
} finally {
  await db.end();
}
