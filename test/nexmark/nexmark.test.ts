/**
 * The Nexmark generator, source and queries.
 *
 * Generator: determinism (same seed, same events; any event computed alone equals the same event
 * computed in sequence), proportions, and field semantics. Source: its splits cover the
 * event-number space exactly once, and a reader restored from its snapshot continues exactly.
 * Queries: q0–q4 run in one job over the same events at parallelism 1 (inline) and 2 (worker
 * threads), and each result must equal a plain TypeScript computation over the generated events;
 * then all five again at parallelism 2 with exactly-once checkpoints and two injected failures,
 * which must lose and repeat nothing. Example: examples/nexmark.ts prints q4's averages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  AUCTION,
  AUCTION_ID_LEAD,
  BID,
  DEFAULT_CONFIG,
  DOLLARS_TO_EUROS,
  FIRST_AUCTION_ID,
  FIRST_CATEGORY_ID,
  FIRST_PERSON_ID,
  HOT_BATCH,
  HOT_CHANNELS,
  NUM_CATEGORIES,
  NexmarkGenerator,
  NexmarkSource,
  PERSON,
  PERSON_ID_LEAD,
  Q2_AUCTION_MODULUS,
  Q3_CATEGORY,
  Q3_STATES,
  US_STATES,
  eventTime,
  nexmarkConfig,
  type Auction,
  type Bid,
  type CategoryAverage,
  type ClosedAuction,
  type NexmarkEvent,
  type NexmarkSplit,
  type Person,
} from '../../src/nexmark/index.ts';
import { runJob, startJob } from '../../src/testing/index.ts';

const JOB = 'test/nexmark/jobs/queries.ts';
const dir = mkdtempSync(join(tmpdir(), 'weir-nexmark-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function generate(count: number, seed?: number): NexmarkEvent[] {
  const g = new NexmarkGenerator(seed === undefined ? {} : { seed });
  const out: NexmarkEvent[] = new Array(count);
  for (let n = 0; n < count; n++) out[n] = g.eventAt(n);
  return out;
}

describe('nexmark generator', () => {
  const N = 50_000;
  const events = generate(N);
  const persons = events.filter((e) => e.type === PERSON).map((e) => e.person!);
  const auctions = events.filter((e) => e.type === AUCTION).map((e) => e.auction!);
  const bids = events.filter((e) => e.type === BID).map((e) => e.bid!);

  it('gives the same events for the same seed, and other events for another seed', () => {
    assert.deepEqual(generate(5_000), events.slice(0, 5_000));
    const other = generate(5_000, 2);
    let differing = 0;
    for (let n = 0; n < 5_000; n++) if (JSON.stringify(other[n]) !== JSON.stringify(events[n])) differing++;
    assert.ok(differing > 4_900, `${differing} of 5000 events differ with another seed`);
  });

  it('computes any event alone, in any order, far into the event-number space', () => {
    const g = new NexmarkGenerator();
    for (let k = 0; k < 2_000; k++) {
      const n = (k * 7_919) % N;
      assert.deepEqual(g.eventAt(n), events[n], `event ${n}`);
    }
    for (const n of [1e9 + 7, 2 ** 40 + 3, 2 ** 52 - 1]) {
      assert.deepEqual(new NexmarkGenerator().eventAt(n), new NexmarkGenerator().eventAt(n));
      assert.equal(eventTime(new NexmarkGenerator().eventAt(n)), new NexmarkGenerator().timestampOf(n));
    }
  });

  it('has 1 person, 3 auctions and 46 bids in every block of 50 events, in that order', () => {
    assert.equal(persons.length, N / 50);
    assert.equal(auctions.length, (N / 50) * 3);
    assert.equal(bids.length, (N / 50) * 46);
    for (let n = 0; n < N; n++) {
      const o = n % 50;
      assert.equal(events[n]!.type, o === 0 ? PERSON : o <= 3 ? AUCTION : BID, `event ${n}`);
    }
  });

  it('numbers persons and auctions from 1000 in order, with timestamps from the event rate', () => {
    for (const [i, p] of persons.entries()) assert.equal(p.id, FIRST_PERSON_ID + i);
    for (const [i, a] of auctions.entries()) assert.equal(a.id, FIRST_AUCTION_ID + i);
    const g = new NexmarkGenerator();
    for (let n = 0; n < N; n++) {
      const t = eventTime(events[n]!);
      assert.equal(t, DEFAULT_CONFIG.baseTime + Math.floor((n * 1000) / DEFAULT_CONFIG.eventRate));
      if (n > 0) assert.ok(t >= eventTime(events[n - 1]!), `timestamp of ${n} decreases`);
      if (events[n]!.type === PERSON) assert.equal(g.personEventNumber(events[n]!.person!.id), n);
      if (events[n]!.type === AUCTION) assert.equal(g.auctionEventNumber(events[n]!.auction!.id), n);
    }
  });

  it('has bids on auctions and by persons that exist, and auctions by persons that exist', () => {
    const g = new NexmarkGenerator();
    const lastPerson = FIRST_PERSON_ID + persons.length - 1;
    const lastAuction = FIRST_AUCTION_ID + auctions.length - 1;
    for (let n = 0; n < N; n++) {
      const e = events[n]!;
      // References reach at most a few ids beyond the newest (the suites' "leads"), and only recent ones.
      const newestPerson = FIRST_PERSON_ID + g.lastBase0PersonId(n);
      const newestAuction = FIRST_AUCTION_ID + g.lastBase0AuctionId(n);
      const person = (id: number, what: string): void => {
        assert.ok(id >= FIRST_PERSON_ID && id <= newestPerson + PERSON_ID_LEAD, `event ${n}: ${what} ${id}, newest person ${newestPerson}`);
        assert.ok(id > newestPerson - DEFAULT_CONFIG.numActivePeople - 1, `event ${n}: ${what} ${id} is not among the active persons`);
        if (n < N - 50 * (PERSON_ID_LEAD + 1)) assert.ok(id <= lastPerson, `event ${n}: ${what} ${id} never exists`);
      };
      if (e.type === AUCTION) person(e.auction!.seller, 'seller');
      if (e.type === BID) {
        person(e.bid!.bidder, 'bidder');
        const a = e.bid!.auction;
        assert.ok(a >= FIRST_AUCTION_ID && a <= newestAuction + AUCTION_ID_LEAD, `event ${n}: auction ${a}, newest ${newestAuction}`);
        assert.ok(a >= newestAuction - DEFAULT_CONFIG.numInFlightAuctions, `event ${n}: auction ${a} is not in flight`);
        if (n < N - 50 * 5) assert.ok(a <= lastAuction, `event ${n}: auction ${a} never exists`);
      }
    }
  });

  it('fills every field within its range', () => {
    for (const p of persons) {
      assert.ok(US_STATES.includes(p.state));
      assert.match(p.creditCard, /^\d{4} \d{4} \d{4} \d{4}$/);
      assert.match(p.emailAddress, /^[a-z ]*@[a-z ]*\.com$/);
      assert.ok(p.name.length > 0 && p.city.length > 0);
    }
    for (const a of auctions) {
      assert.ok(a.expires > a.dateTime, `auction ${a.id} expires at ${a.expires}, opened at ${a.dateTime}`);
      assert.ok(a.reserve >= a.initialBid && a.initialBid >= 100 && a.initialBid <= 1e8);
      assert.ok(a.category >= FIRST_CATEGORY_ID && a.category < FIRST_CATEGORY_ID + NUM_CATEGORIES);
      assert.ok(a.itemName.length < 20 && a.description.length < 100);
    }
    for (const b of bids) {
      assert.ok(Number.isInteger(b.price) && b.price >= 100 && b.price <= 1e8);
      assert.ok(b.url.startsWith('https://www.nexmark.com/'));
      assert.ok(HOT_CHANNELS.includes(b.channel) || /^channel-\d+$/.test(b.channel));
    }
    // Every state, category and half of the channels hot, as the ratios say.
    assert.equal(new Set(persons.map((p) => p.state)).size, US_STATES.length);
    assert.equal(new Set(auctions.map((a) => a.category)).size, NUM_CATEGORIES);
    const hotChannels = bids.filter((b) => HOT_CHANNELS.includes(b.channel)).length / bids.length;
    assert.ok(Math.abs(hotChannels - 0.5) < 0.02, `hot channels ${hotChannels}`);
  });

  it('pads records to the configured average sizes', () => {
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const bidSize = mean(bids.map((b) => 32 + b.extra.length));
    const auctionSize = mean(auctions.map((a) => 8 + a.itemName.length + a.description.length + 40 + a.extra.length));
    const personSize = mean(persons.map((p) => 8 + p.name.length + p.emailAddress.length + p.creditCard.length + p.city.length + p.state.length + p.extra.length));
    assert.ok(Math.abs(bidSize - 100) < 1, `bid ${bidSize}`);
    assert.ok(Math.abs(auctionSize - 500) < 5, `auction ${auctionSize}`);
    assert.ok(Math.abs(personSize - 200) < 3, `person ${personSize}`);
  });

  it('makes hot auctions, bidders and sellers as frequent as the ratios say', () => {
    const g = new NexmarkGenerator();
    let hotAuction = 0;
    let hotBidder = 0;
    let hotSeller = 0;
    for (let n = 0; n < N; n++) {
      const e = events[n]!;
      const batchStartPerson = FIRST_PERSON_ID + Math.floor(g.lastBase0PersonId(n) / HOT_BATCH) * HOT_BATCH;
      if (e.type === BID) {
        if (e.bid!.auction === FIRST_AUCTION_ID + Math.floor(g.lastBase0AuctionId(n) / HOT_BATCH) * HOT_BATCH) hotAuction++;
        if (e.bid!.bidder === batchStartPerson + 1) hotBidder++;
      }
      if (e.type === AUCTION && e.auction!.seller === batchStartPerson) hotSeller++;
    }
    // Hot with probability 1 - 1/ratio, plus the odd random pick of the same id.
    const share = (x: number, of: number, ratio: number): void => {
      const want = 1 - 1 / ratio;
      assert.ok(x / of >= want - 0.02 && x / of <= want + 0.04, `${x / of} against ${want}`);
    };
    share(hotAuction, bids.length, DEFAULT_CONFIG.hotAuctionRatio);
    share(hotBidder, bids.length, DEFAULT_CONFIG.hotBiddersRatio);
    share(hotSeller, auctions.length, DEFAULT_CONFIG.hotSellersRatio);
  });

  it('refuses invalid configurations with the setting named', () => {
    assert.throws(() => nexmarkConfig({ eventRate: 0 }), /eventRate/);
    assert.throws(() => nexmarkConfig({ maxEvents: -1 }), /maxEvents/);
    assert.throws(() => nexmarkConfig({ bidProportion: 1.5 }), /bidProportion/);
  });
});

describe('nexmark source', () => {
  function readAll(splits: NexmarkSplit[], source: NexmarkSource, stopAfter = Infinity): { events: NexmarkEvent[]; rest: NexmarkSplit[] } {
    const reader = source.createReader({ getIndexOfSubtask: () => 0, getNumberOfParallelSubtasks: () => 1 });
    reader.addSplits(splits);
    reader.notifyNoMoreSplits();
    const events: NexmarkEvent[] = [];
    const output = { collect: (e: NexmarkEvent, ts?: number) => (assert.equal(ts, eventTime(e)), events.push(e)) };
    while (events.length < stopAfter && reader.pollNext(output) === 'MORE_AVAILABLE');
    return { events, rest: reader.snapshotState(1) };
  }

  it('splits the events into parts that together hold each event once, each in timestamp order', () => {
    const source = new NexmarkSource({ maxEvents: 10_037 });
    const expected = generate(10_037);
    for (const p of [1, 2, 3, 7]) {
      const seen: NexmarkEvent[] = [];
      for (const split of source.createSplits(p)) {
        const { events } = readAll([split], source);
        for (let i = 1; i < events.length; i++) assert.ok(eventTime(events[i]!) >= eventTime(events[i - 1]!));
        // Whole blocks of 50 per split: every split sees persons, auctions and bids.
        if (events.length >= 50) assert.ok(events.some((e) => e.type === PERSON) && events.some((e) => e.type === BID));
        seen.push(...events);
      }
      const key = (e: NexmarkEvent): string => JSON.stringify(e);
      assert.deepEqual(seen.map(key).sort(), expected.map(key).sort(), `parallelism ${p}`);
    }
  });

  it('continues exactly where its snapshot was taken, also with several splits per reader', () => {
    const source = new NexmarkSource({ maxEvents: 5_000 });
    const straight = readAll(source.createSplits(3), source).events;
    const first = readAll(source.createSplits(3), source, 1_000);
    const second = readAll(first.rest, source);
    assert.equal(first.events.length + second.events.length, 5_000);
    assert.deepEqual([...first.events, ...second.events], straight);
    // With several splits a reader still emits in event-number (so timestamp) order.
    assert.deepEqual(straight, generate(5_000));
  });

  it('paces its output to the event rate when rate-limited', async () => {
    const source = new NexmarkSource({ maxEvents: 300, eventRate: 3_000, rateLimited: true });
    const reader = source.createReader({ getIndexOfSubtask: () => 0, getNumberOfParallelSubtasks: () => 1 });
    reader.addSplits(source.createSplits(1));
    reader.notifyNoMoreSplits();
    let count = 0;
    const t0 = performance.now();
    for (;;) {
      const status = reader.pollNext({ collect: () => void count++ });
      if (status === 'END_OF_INPUT') break;
      if (status === 'NOTHING_AVAILABLE') await reader.isAvailable();
    }
    const ms = performance.now() - t0;
    assert.equal(count, 300);
    assert.ok(ms >= 90 && ms < 1_000, `300 events at 3000/s took ${ms.toFixed(0)} ms`);
  });
});

// ---- the queries against plain TypeScript --------------------------------------------------------

type Tagged = [string, unknown];

/** What q0–q4 must produce over events 0..n-1 of the default configuration, computed plainly. */
function reference(n: number): Map<string, unknown[]> {
  const events = generate(n);
  const persons = new Map<number, Person>();
  const auctions: Auction[] = [];
  const bids: Bid[] = [];
  for (const e of events) {
    if (e.type === PERSON) persons.set(e.person!.id, e.person!);
    else if (e.type === AUCTION) auctions.push(e.auction!);
    else bids.push(e.bid!);
  }
  const q3 = [];
  for (const a of auctions) {
    const p = persons.get(a.seller);
    if (a.category === Q3_CATEGORY && p && Q3_STATES.includes(p.state)) q3.push({ name: p.name, city: p.city, state: p.state, id: a.id });
  }
  const bidsOf = new Map<number, Bid[]>();
  for (const b of bids) {
    const list = bidsOf.get(b.auction);
    if (list) list.push(b);
    else bidsOf.set(b.auction, [b]);
  }
  const closed: ClosedAuction[] = [];
  for (const a of auctions) {
    const valid = (bidsOf.get(a.id) ?? []).filter((b) => b.dateTime >= a.dateTime && b.dateTime <= a.expires);
    if (valid.length > 0) closed.push({ auction: a.id, category: a.category, price: Math.max(...valid.map((b) => b.price)) });
  }
  return new Map<string, unknown[]>([
    ['q0', bids],
    ['q1', bids.map((b) => ({ ...b, price: b.price * DOLLARS_TO_EUROS }))],
    ['q2', bids.filter((b) => b.auction % Q2_AUCTION_MODULUS === 0).map((b) => ({ auction: b.auction, price: b.price }))],
    ['q3', q3],
    ['q4c', closed],
  ]);
}

const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

function byQuery(collected: readonly unknown[]): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const [q, r] of collected as Tagged[]) {
    const list = out.get(q);
    if (list) list.push(r);
    else out.set(q, [r]);
  }
  return out;
}

/**
 * q4's running averages against the closing prices: per category, one output per closed auction
 * with counts 1..k, each sum the previous plus one closing price of that category, every closing
 * price used once, and the average sum / count.
 */
function checkQ4(outputs: readonly CategoryAverage[], closed: readonly ClosedAuction[], what: string): void {
  for (let c = FIRST_CATEGORY_ID; c < FIRST_CATEGORY_ID + NUM_CATEGORIES; c++) {
    const mine = outputs.filter((o) => o.category === c).sort((a, b) => a.count - b.count);
    const prices = closed.filter((x) => x.category === c).map((x) => x.price);
    assert.deepEqual(mine.map((o) => o.count), prices.map((_, i) => i + 1), `${what}: category ${c} counts`);
    const steps = mine.map((o, i) => o.sum - (i === 0 ? 0 : mine[i - 1]!.sum));
    assert.deepEqual(steps.sort((a, b) => a - b), prices.sort((a, b) => a - b), `${what}: category ${c} sums`);
    for (const o of mine) assert.equal(o.average, o.sum / o.count);
  }
}

function checkAll(got: Map<string, unknown[]>, expected: Map<string, unknown[]>, what: string): void {
  for (const q of ['q0', 'q1', 'q2', 'q3', 'q4c']) {
    const want = expected.get(q)!;
    assert.ok(want.length > (q === 'q2' ? 30 : 100), `${q}: the reference has ${want.length} records`);
    const mine = got.get(q) ?? [];
    assert.equal(mine.length, want.length, `${what}: ${q} has ${mine.length} records instead of ${want.length}`);
    assert.deepEqual(canon(mine), canon(want), `${what}: ${q}`);
  }
  checkQ4((got.get('q4') ?? []) as CategoryAverage[], expected.get('q4c') as ClosedAuction[], `${what}: q4`);
}

describe('nexmark queries', () => {
  const N = 20_000;
  const expected = reference(N);
  const ALL = 'q0,q1,q2,q3,q4,q4c';

  it('q0–q4 equal the plain computation at parallelism 1 (inline)', async () => {
    const { collected } = await runJob(JOB, { args: [ALL, String(N)], parallelism: 1, mode: 'inline' });
    checkAll(byQuery(collected), expected, 'p=1');
  });

  it('q0–q4 equal the plain computation at parallelism 2 (worker threads)', async () => {
    const { collected } = await runJob(JOB, { args: [ALL, String(N)], parallelism: 2, mode: 'threads' });
    checkAll(byQuery(collected), expected, 'p=2');
  });

  it('with exactly-once checkpoints and two failures (a query, a snapshot) lose and repeat nothing (p=2, threads)', async () => {
    // Paced at 10,000 events/s (2 s), so that checkpoints every 100 ms complete during the run.
    const options = {
      rateLimited: true,
      interval: 100,
      dir,
      faults: [
        { attempt: 0, after: 300, query: 'q4' },
        { attempt: 1, async: 1 },
      ],
    };
    const client = await startJob(JOB, { args: [ALL, String(N), JSON.stringify(options)], parallelism: 2 });
    const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
    assert.equal(await client.getNumRestarts(), 2, 'each injected failure restarted the job once');
    const stats = await client.getCheckpointStats();
    assert.ok(stats!.counts.restored >= 1, `a restart restored a checkpoint: ${JSON.stringify(stats!.counts)}`);
    checkAll(byQuery([...result.collected.values()].flat()), expected, 'with failures');
  });
});

describe('nexmark example', () => {
  it('`weir run examples/nexmark.ts q4 <events>` prints the average closing price of every category', () => {
    const r = spawnSync(process.execPath, ['bin/weir.mjs', 'run', 'examples/nexmark.ts', 'q4', '20000'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const closed = reference(20_000).get('q4c') as ClosedAuction[];
    const lines = r.stdout.split('\n').filter((l) => l.includes('average closing price'));
    assert.equal(lines.length, NUM_CATEGORIES, r.stdout);
    for (const line of lines) {
      const m = /category (\d+): average closing price \$([\d.]+) over (\d+) auctions/.exec(line);
      assert.ok(m, line);
      const prices = closed.filter((c) => c.category === Number(m[1])).map((c) => c.price);
      assert.equal(Number(m[3]), prices.length, line);
      assert.equal(m[2], (prices.reduce((a, b) => a + b, 0) / prices.length / 100).toFixed(2), line);
    }
  });
});
