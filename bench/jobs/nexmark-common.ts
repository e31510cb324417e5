/**
 * What the Nexmark benchmark job (nexmark.ts), its plain-loop baselines and the benchmark
 * (../nexmark.ts) share: the generator configuration, an order-independent digest of each
 * query's output, the sink that computes it inside the job, and the plain loops.
 *
 * The digest is a record count and a 32-bit checksum: the sum (mod 2^32) of a hash of each
 * output record, so it does not depend on the order records arrive in, and a lost, repeated or
 * altered record changes it. q4's running averages depend on the order in which auctions of one
 * category with the same `expires` close, so its digest covers each output's (category, count)
 * and, at the end, each category's final count and sum, which do not.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { RichSinkFunction } from 'weir';
import {
  AUCTION,
  BID,
  DOLLARS_TO_EUROS,
  NexmarkGenerator,
  PERSON,
  Q2_AUCTION_MODULUS,
  makeBid,
  Q3_CATEGORY,
  Q3_STATES,
  q4ClosedRetentionMs,
  type AuctionPrice,
  type Bid,
  type CategoryAverage,
  type LocalItem,
  type NexmarkConfig,
  type QueryName,
} from 'weir/nexmark';
import { channelName } from './common.ts';
import { fmix } from '../../src/core/key-group.ts';

/**
 * The generator configuration of every run: Nexmark's defaults with the event rate of Flink's
 * published benchmark (10 million events per second of event time; it decides timestamps and
 * auction lengths, not how fast the source emits).
 */
export function benchConfig(events: number): Partial<NexmarkConfig> {
  return { maxEvents: events, eventRate: 10_000_000 };
}

/** q4's closed-auction retention for that configuration. */
export const BENCH_Q4_RETENTION_MS = q4ClosedRetentionMs(benchConfig(1));

export interface Digest {
  count: number;
  checksum: number;
}

/** Posted by every parallel instance of DigestSink when its input ended. */
export interface NexmarkSinkReport {
  readonly type: 'nexmark-sink';
  readonly subtask: number;
  readonly subtasks: number;
  readonly count: number;
  readonly checksum: number;
}

function mix(h: number): number {
  return fmix(h) >>> 0;
}

/** Low and high 32 bits of a non-negative safe integer, mixed. */
function wide(x: number): number {
  return (x >>> 0) ^ Math.imul(Math.floor(x / 4294967296), 0x27d4eb2f);
}

function bidHash(b: Bid, price: number): number {
  return mix(Math.imul(b.auction, 0x9e3779b1) ^ Math.imul(b.bidder, 0x85ebca77) ^ wide(price) ^ Math.imul(wide(b.dateTime), 0x165667b1) ^ (b.extra.length << 20) ^ (b.url.length << 10));
}

/** Folds one output record of the query into the digest. */
export type Folder = (d: Digest, record: unknown) => void;

/** q4's per-category final figures, folded in at the end. */
export class CategoryTotals {
  readonly last = new Map<number, { count: number; sum: number }>();
  note(c: CategoryAverage): void {
    const t = this.last.get(c.category);
    if (t === undefined || c.count > t.count) this.last.set(c.category, { count: c.count, sum: c.sum });
  }
  fold(d: Digest): void {
    for (const [category, t] of this.last) d.checksum = (d.checksum + mix(Math.imul(category, 0x9e3779b1) ^ wide(t.sum) ^ Math.imul(t.count, 0x85ebca77))) >>> 0;
  }
}

export function folderOf(query: QueryName, totals: CategoryTotals): Folder {
  switch (query) {
    case 'q0':
      return (d, r) => {
        const b = r as Bid;
        d.count++;
        d.checksum = (d.checksum + bidHash(b, b.price)) >>> 0;
      };
    case 'q1':
      // Converted prices are not whole numbers: hashed to a thousandth of a cent.
      return (d, r) => {
        const b = r as Bid;
        d.count++;
        d.checksum = (d.checksum + bidHash(b, Math.round(b.price * 1000))) >>> 0;
      };
    case 'q2':
      return (d, r) => {
        const x = r as AuctionPrice;
        d.count++;
        d.checksum = (d.checksum + mix(Math.imul(x.auction, 0x9e3779b1) ^ wide(x.price))) >>> 0;
      };
    case 'q3':
      return (d, r) => {
        const x = r as LocalItem;
        d.count++;
        d.checksum = (d.checksum + mix(Math.imul(x.id, 0x9e3779b1) ^ (x.name.length << 24) ^ (x.city.length << 16) ^ x.state.charCodeAt(0) ^ (x.state.charCodeAt(1) << 8))) >>> 0;
      };
    case 'q4':
      return (d, r) => {
        const x = r as CategoryAverage;
        if (x.average !== x.sum / x.count) d.checksum = (d.checksum + 1) >>> 0;
        totals.note(x);
        d.count++;
        d.checksum = (d.checksum + mix(Math.imul(x.category, 0x9e3779b1) ^ Math.imul(x.count, 0x85ebca77))) >>> 0;
      };
  }
}

/** The job's sink: digests its input and reports it when the input ends. */
export class DigestSink extends RichSinkFunction<unknown> {
  readonly #digest: Digest = { count: 0, checksum: 0 };
  readonly #totals = new CategoryTotals();
  readonly #fold: Folder;

  constructor(
    readonly runId: string,
    readonly query: QueryName,
  ) {
    super();
    this.#fold = folderOf(query, this.#totals);
  }

  invoke(value: unknown): void {
    this.#fold(this.#digest, value);
  }

  finish(): void {
    this.#totals.fold(this.#digest);
    const ctx = this.getRuntimeContext();
    const report: NexmarkSinkReport = {
      type: 'nexmark-sink',
      subtask: ctx.getIndexOfThisSubtask(),
      subtasks: ctx.getNumberOfParallelSubtasks(),
      count: this.#digest.count,
      checksum: this.#digest.checksum,
    };
    const channel = new BroadcastChannel(channelName(this.runId));
    channel.postMessage(report);
    channel.close();
  }
}

// ---- plain loops --------------------------------------------------------------------------------

/**
 * The query's computation as a plain loop over the same generator: events 0..n-1 in order, the
 * same records built, the same digest. q3 and q4 keep their state in Maps and close auctions
 * from a timer heap driven by event time, as the job does with keyed state and timers.
 */
export function plainQuery(query: QueryName, n: number): Digest {
  const g = new NexmarkGenerator(benchConfig(n));
  const totals = new CategoryTotals();
  const fold = folderOf(query, totals);
  const d: Digest = { count: 0, checksum: 0 };
  switch (query) {
    case 'q0':
      for (let i = 0; i < n; i++) {
        const e = g.eventAt(i);
        if (e.type === BID) fold(d, e.bid);
      }
      break;
    case 'q1':
      for (let i = 0; i < n; i++) {
        const e = g.eventAt(i);
        if (e.type === BID) {
          const b = e.bid;
          fold(d, makeBid(b.auction, b.bidder, b.price * DOLLARS_TO_EUROS, b.channel, b.url, b.dateTime, b.extra));
        }
      }
      break;
    case 'q2':
      for (let i = 0; i < n; i++) {
        const e = g.eventAt(i);
        if (e.type === BID && e.bid.auction % Q2_AUCTION_MODULUS === 0) fold(d, { auction: e.bid.auction, price: e.bid.price });
      }
      break;
    case 'q3':
      plainQ3(g, n, (r) => fold(d, r));
      break;
    case 'q4':
      plainQ4(g, n, (r) => fold(d, r));
      totals.fold(d);
      break;
  }
  return d;
}

function plainQ3(g: NexmarkGenerator, n: number, emit: (r: LocalItem) => void): void {
  const sellers = new Map<number, { name: string; city: string; state: string } | false>();
  const waiting = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const e = g.eventAt(i);
    if (e.type === AUCTION) {
      const a = e.auction;
      if (a.category !== Q3_CATEGORY) continue;
      const s = sellers.get(a.seller);
      if (s === undefined) {
        const w = waiting.get(a.seller);
        if (w) w.push(a.id);
        else waiting.set(a.seller, [a.id]);
      } else if (s !== false) emit({ name: s.name, city: s.city, state: s.state, id: a.id });
    } else if (e.type === PERSON) {
      const p = e.person;
      const matches = Q3_STATES.includes(p.state);
      sellers.set(p.id, matches ? { name: p.name, city: p.city, state: p.state } : false);
      const w = waiting.get(p.id);
      if (w === undefined) continue;
      if (matches) for (const id of w) emit({ name: p.name, city: p.city, state: p.state, id });
      waiting.delete(p.id);
    }
  }
}

interface Window {
  dateTime: number;
  expires: number;
  category: number;
  best: number;
  closed: boolean;
}

/** A binary min-heap of (time, key) timers. */
class TimerHeap {
  readonly times: number[] = [];
  readonly keys: number[] = [];
  get size(): number {
    return this.times.length;
  }
  push(time: number, key: number): void {
    const t = this.times;
    const k = this.keys;
    let i = t.length;
    t.push(time);
    k.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! <= time) break;
      t[i] = t[p]!;
      k[i] = k[p]!;
      i = p;
    }
    t[i] = time;
    k[i] = key;
  }
  /** Removes the earliest timer; read times[0] and keys[0] before. */
  pop(): void {
    const t = this.times;
    const k = this.keys;
    const time = t.pop()!;
    const key = k.pop()!;
    const size = t.length;
    if (size === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && t[c + 1]! < t[c]!) c++;
      if (t[c]! >= time) break;
      t[i] = t[c]!;
      k[i] = k[c]!;
      i = c;
    }
    t[i] = time;
    k[i] = key;
  }
}

function plainQ4(g: NexmarkGenerator, n: number, emit: (r: CategoryAverage) => void): void {
  const retention = BENCH_Q4_RETENTION_MS;
  const windows = new Map<number, Window>();
  const early = new Map<number, [number, number][]>();
  const timers = new TimerHeap();
  const categories = new Map<number, [number, number]>();
  const fire = (t: number, auction: number): void => {
    const w = windows.get(auction);
    if (w !== undefined) {
      if (!w.closed && t >= w.expires) {
        if (w.best >= 0) {
          const c = categories.get(w.category) ?? [0, 0];
          const sum = c[0] + w.best;
          const count = c[1] + 1;
          categories.set(w.category, [sum, count]);
          emit({ category: w.category, average: sum / count, count, sum });
        }
        w.closed = true;
        timers.push(w.expires + retention, auction);
      } else if (w.closed && t >= w.expires + retention) {
        windows.delete(auction);
      }
    }
    const pending = early.get(auction);
    if (pending !== undefined) {
      const keep = pending.filter((x) => x[0] > t);
      if (keep.length === 0) early.delete(auction);
      else early.set(auction, keep);
    }
  };
  // The watermark trails the newest timestamp by 1 ms, as the job's does.
  for (let i = 0; i < n; i++) {
    const e = g.eventAt(i);
    const watermark = g.timestampOf(i) - 1;
    while (timers.size > 0 && timers.times[0]! <= watermark) {
      const t = timers.times[0]!;
      const k = timers.keys[0]!;
      timers.pop();
      fire(t, k);
    }
    if (e.type === AUCTION) {
      const a = e.auction;
      let best = -1;
      const pending = early.get(a.id);
      if (pending !== undefined) {
        for (const [ts, price] of pending) if (ts >= a.dateTime && ts <= a.expires && price > best) best = price;
        early.delete(a.id);
      }
      windows.set(a.id, { dateTime: a.dateTime, expires: a.expires, category: a.category, best, closed: false });
      timers.push(a.expires, a.id);
    } else if (e.type === BID) {
      const b = e.bid;
      const w = windows.get(b.auction);
      if (w !== undefined) {
        if (!w.closed && b.price > w.best && b.dateTime >= w.dateTime && b.dateTime <= w.expires) w.best = b.price;
        continue;
      }
      const pending = early.get(b.auction);
      if (pending) pending.push([b.dateTime, b.price]);
      else early.set(b.auction, [[b.dateTime, b.price]]);
      timers.push(b.dateTime, b.auction);
    }
  }
  while (timers.size > 0) {
    const t = timers.times[0]!;
    const k = timers.keys[0]!;
    timers.pop();
    fire(t, k);
  }
}
