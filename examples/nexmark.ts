/**
 * A Nexmark query over generated auction events (docs/nexmark.md), with exactly-once
 * checkpoints every second, ending with a short summary of the results.
 *
 *   weir run [-p N] examples/nexmark.ts [q0|q1|q2|q3|q4] [events] [seed]
 *
 * e.g. `npx weir run examples/nexmark.ts q4 100000`: the average closing price per category.
 */
import { RichSinkFunction, StreamExecutionEnvironment } from 'weir';
import { QUERY_NAMES, nexmarkEvents, query, type CategoryAverage, type QueryName } from 'weir/nexmark';

const [name = 'q4', eventsArg = '100000', seedArg = '1'] = process.argv.slice(2);
if (!(QUERY_NAMES as readonly string[]).includes(name)) {
  throw new RangeError(`unknown query "${name}"; there are ${QUERY_NAMES.join(', ')}`);
}
const q = name as QueryName;
const events = Number(eventsArg);
const seed = Number(seedArg);
if (!Number.isSafeInteger(events) || events < 1) throw new RangeError(`events must be a positive integer, got ${eventsArg}`);

const money = (cents: number): string => `$${(cents / 100).toFixed(2)}`;

/** Counts the results, keeps the first few (and q4's latest average per category), prints them at the end. */
class Summary extends RichSinkFunction<unknown> {
  #count = 0;
  readonly #first: unknown[] = [];
  readonly #categories = new Map<number, CategoryAverage>();

  invoke(value: unknown): void {
    this.#count++;
    if (this.#first.length < 3) this.#first.push(value);
    if (q === 'q4') {
      const c = value as CategoryAverage;
      if ((this.#categories.get(c.category)?.count ?? 0) < c.count) this.#categories.set(c.category, c);
    }
  }

  finish(): void {
    const lines = [`${q} over ${events} events: ${this.#count} results`];
    if (q === 'q4') {
      for (const c of [...this.#categories.values()].sort((a, b) => a.category - b.category)) {
        lines.push(`  category ${c.category}: average closing price ${money(c.average)} over ${c.count} auctions`);
      }
    } else {
      for (const r of this.#first) lines.push(`  ${JSON.stringify(r).slice(0, 160)}`);
      if (this.#count > this.#first.length) lines.push('  ...');
    }
    console.log(lines.join('\n'));
  }
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.enableCheckpointing(1000);
const results = query(q)(nexmarkEvents(env, { maxEvents: events, seed }));
// One summary for the whole job, whatever the parallelism.
results.addSink(new Summary()).name('Summary').uid(`${q}-summary`).setParallelism(1);
const result = await env.execute(`Nexmark ${q}`);
console.log(`${events} events in ${result.netRuntime} ms (${Math.round(events / (result.netRuntime / 1000))} events/s)`);
