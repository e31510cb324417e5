/**
 * Nexmark queries q0–q4 written with weir's DataStream API.
 *
 * Each query takes the stream of all generated events (`nexmarkEvents`) and returns its result
 * stream; the caller adds the sink. Every operator has a uid that starts with the query's name,
 * so several queries can read the same event stream in one job, and state matches across
 * restores and savepoints.
 *
 * Like the suites' SQL versions, every query reads the whole event stream and picks the kinds it
 * needs, so a query's throughput counts every event generated.
 */
import type { StreamExecutionEnvironment } from '../api/environment.ts';
import type { DataStream } from '../api/data-stream.ts';
import {
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  type Collector,
  type KeyedProcessContext,
  type OnTimerContext,
} from '../api/functions.ts';
import { ListStateDescriptor, ValueStateDescriptor, type ListState, type ValueState } from '../api/state.ts';
import { nexmarkConfig, type NexmarkConfig } from './generator.ts';
import {
  AUCTION,
  BID,
  PERSON,
  makeBid,
  type Auction,
  type AuctionPrice,
  type Bid,
  type CategoryAverage,
  type ClosedAuction,
  type LocalItem,
  type NexmarkEvent,
  type Person,
} from './model.ts';
import { NexmarkSource, nexmarkWatermarkStrategy } from './source.ts';

export interface NexmarkEventsOptions {
  /** Bound of the watermark strategy (default 0: each reader emits in timestamp order). */
  readonly maxOutOfOrdernessMs?: number;
  /** uid of the source operator (default "nexmark-source"). */
  readonly uid?: string;
}

/** The stream of all Nexmark events of a configuration, with event time from each event's dateTime. */
export function nexmarkEvents(
  env: StreamExecutionEnvironment,
  config: Partial<NexmarkConfig> = {},
  options: NexmarkEventsOptions = {},
): DataStream<NexmarkEvent> {
  return env
    .fromSource(new NexmarkSource(config), nexmarkWatermarkStrategy(options.maxOutOfOrdernessMs ?? 0), 'Nexmark Source')
    .uid(options.uid ?? 'nexmark-source');
}

// ---- picking one kind of event ------------------------------------------------------------------

function bidOf(e: NexmarkEvent, out: Collector<Bid>): void {
  if (e.type === BID) out.collect(e.bid);
}
function auctionOf(e: NexmarkEvent, out: Collector<Auction>): void {
  if (e.type === AUCTION) out.collect(e.auction);
}
function personOf(e: NexmarkEvent, out: Collector<Person>): void {
  if (e.type === PERSON) out.collect(e.person);
}

/** The bids among the events (Flink's Nexmark view `bid`). */
export function bids(events: DataStream<NexmarkEvent>, uid: string): DataStream<Bid> {
  return events.flatMap(bidOf).name('Bids').uid(uid);
}
/** The auctions among the events. */
export function auctions(events: DataStream<NexmarkEvent>, uid: string): DataStream<Auction> {
  return events.flatMap(auctionOf).name('Auctions').uid(uid);
}
/** The persons among the events. */
export function persons(events: DataStream<NexmarkEvent>, uid: string): DataStream<Person> {
  return events.flatMap(personOf).name('Persons').uid(uid);
}

// ---- q0–q2: stateless ---------------------------------------------------------------------------

/** q0, pass-through: every bid, unchanged. Measures the cost of the source and the engine. */
export function q0(events: DataStream<NexmarkEvent>): DataStream<Bid> {
  return bids(events, 'q0-bids');
}

/** The exchange rate of q1. */
export const DOLLARS_TO_EUROS = 0.908;

function toEuros(b: Bid): Bid {
  return makeBid(b.auction, b.bidder, b.price * DOLLARS_TO_EUROS, b.channel, b.url, b.dateTime, b.extra);
}

/** q1, currency conversion: every bid with its price converted from dollars to euros. */
export function q1(events: DataStream<NexmarkEvent>): DataStream<Bid> {
  return bids(events, 'q1-bids').map(toEuros).name('Dollars to euros').uid('q1-euros');
}

/** q2 selects the bids of every 123rd auction. */
export const Q2_AUCTION_MODULUS = 123;

function selectedAuction(b: Bid): boolean {
  return b.auction % Q2_AUCTION_MODULUS === 0;
}
function auctionPrice(b: Bid): AuctionPrice {
  return { auction: b.auction, price: b.price };
}

/** q2, selection: auction and price of the bids on auctions whose id is a multiple of 123. */
export function q2(events: DataStream<NexmarkEvent>): DataStream<AuctionPrice> {
  return bids(events, 'q2-bids').filter(selectedAuction).name('Selected auctions').uid('q2-filter').map(auctionPrice).name('Auction and price').uid('q2-project');
}

// ---- q3: local item suggestion (incremental join) -----------------------------------------------

/** The states and the category q3 looks for. */
export const Q3_STATES: readonly string[] = Object.freeze(['OR', 'ID', 'CA']);
export const Q3_CATEGORY = 10;

/** What the join keeps of a seller: name, city and state when in one of Q3_STATES, else false. */
type Seller = { readonly name: string; readonly city: string; readonly state: string } | false;

function inCategory(a: Auction): boolean {
  return a.category === Q3_CATEGORY;
}

/**
 * Joins auctions (input 1) with their seller (input 2), keyed by person id. A seller's record
 * arrives once; auctions that arrive before it (generated sellers may be up to ten persons ahead
 * of the newest) wait in list state. Every person is remembered, matching or not, so that an
 * auction by a seller outside the three states is dropped at once instead of waiting for ever.
 */
export class LocalItemJoin extends KeyedCoProcessFunction<number, Auction, Person, LocalItem> {
  private seller!: ValueState<Seller>;
  private waiting!: ListState<number>;

  override open(): void {
    const rc = this.getRuntimeContext();
    this.seller = rc.getState(new ValueStateDescriptor<Seller>('seller'));
    this.waiting = rc.getListState(new ListStateDescriptor<number>('waiting-auctions'));
  }

  processElement1(a: Auction, _ctx: KeyedProcessContext<number>, out: Collector<LocalItem>): void {
    const s = this.seller.value();
    if (s === undefined) this.waiting.add(a.id);
    else if (s !== false) out.collect({ name: s.name, city: s.city, state: s.state, id: a.id });
  }

  processElement2(p: Person, _ctx: KeyedProcessContext<number>, out: Collector<LocalItem>): void {
    const matches = Q3_STATES.includes(p.state);
    this.seller.update(matches ? { name: p.name, city: p.city, state: p.state } : false);
    const waiting = this.waiting.get();
    if (waiting.length === 0) return;
    if (matches) for (const id of waiting) out.collect({ name: p.name, city: p.city, state: p.state, id });
    this.waiting.clear();
  }
}

/**
 * q3, local item suggestion: who sells in OR, ID or CA in category 10, and which auctions
 * (name, city, state, auction id) — an incremental join of auctions with persons on
 * auction.seller = person.id.
 */
export function q3(events: DataStream<NexmarkEvent>): DataStream<LocalItem> {
  const items = auctions(events, 'q3-auctions').filter(inCategory).name('Category 10').uid('q3-category');
  const sellers = persons(events, 'q3-persons');
  return items
    .connect(sellers)
    .keyBy(
      (a) => a.seller,
      (p) => p.id,
    )
    .process(new LocalItemJoin())
    .name('Local item join')
    .uid('q3-join');
}

// ---- q4: average closing price per category ----------------------------------------------------

export interface Q4Options {
  /**
   * Event-time ms to remember an auction after it closed, so that its late-coming bids (which
   * never count: they are after its close) are dropped without buffering. Correctness does not
   * depend on it; it trades state for work. Default: `q4ClosedRetentionMs()` of the default
   * configuration.
   */
  readonly closedRetentionMs?: number;
  /** Start of the uids of the query's operators (default "q4"), for running it twice in one job. */
  readonly uidPrefix?: string;
}

/**
 * How long bids keep arriving for an auction after it closed, in event time: about the time it
 * takes to create twice `numInFlightAuctions` auctions (bids pick among the latest ones).
 */
export function q4ClosedRetentionMs(config: Partial<NexmarkConfig> = {}): number {
  const c = nexmarkConfig(config);
  const events = (2 * c.numInFlightAuctions * (c.personProportion + c.auctionProportion + c.bidProportion)) / c.auctionProportion;
  return Math.ceil((events * 1000) / c.eventRate);
}

/** An open (or recently closed) auction: its window, category and best valid bid so far. */
interface AuctionWindow {
  dateTime: number;
  expires: number;
  category: number;
  /** Highest price of a bid within [dateTime, expires]; -1 while there is none. */
  best: number;
  closed: boolean;
}

/**
 * The closing price of each auction: the highest bid placed within [dateTime, expires], emitted
 * when event time reaches `expires` (an event-time timer). Keyed by auction id; auctions are
 * input 1, bids input 2. Auctions without a valid bid emit nothing (an inner join, as the suites'
 * SQL has it).
 *
 * A bid can arrive before its auction (bids may name auctions up to ten ahead of the newest, and
 * parallel readers interleave). Such bids wait in list state, each until event time passes its
 * own timestamp: an auction arriving after that opened after the bid (it is not late), so the
 * bid could not count. Nothing here depends on how the generator picks auctions; only on
 * records not being late, which the source's watermarks guarantee.
 */
export class AuctionClosing extends KeyedCoProcessFunction<number, Auction, Bid, ClosedAuction> {
  private window!: ValueState<AuctionWindow>;
  private early!: ListState<[number, number]>;

  constructor(readonly closedRetentionMs: number = q4ClosedRetentionMs()) {
    super();
    if (!Number.isFinite(closedRetentionMs) || closedRetentionMs < 0) {
      throw new RangeError(`closedRetentionMs must be a finite number >= 0, got ${closedRetentionMs}`);
    }
  }

  override open(): void {
    const rc = this.getRuntimeContext();
    this.window = rc.getState(new ValueStateDescriptor<AuctionWindow>('auction'));
    this.early = rc.getListState(new ListStateDescriptor<[number, number]>('early-bids'));
  }

  processElement1(a: Auction, ctx: KeyedProcessContext<number>, _out: Collector<ClosedAuction>): void {
    let best = -1;
    const early = this.early.get();
    if (early.length > 0) {
      for (const [ts, price] of early) if (ts >= a.dateTime && ts <= a.expires && price > best) best = price;
      this.early.clear();
    }
    this.window.update({ dateTime: a.dateTime, expires: a.expires, category: a.category, best, closed: false });
    ctx.timerService().registerEventTimeTimer(a.expires);
  }

  processElement2(b: Bid, ctx: KeyedProcessContext<number>, _out: Collector<ClosedAuction>): void {
    const w = this.window.value();
    if (w !== undefined) {
      // After the close, bids are later than `expires` (they are not late), so they never count.
      if (!w.closed && b.price > w.best && b.dateTime >= w.dateTime && b.dateTime <= w.expires) {
        w.best = b.price;
        this.window.update(w);
      }
      return;
    }
    this.early.add([b.dateTime, b.price]);
    ctx.timerService().registerEventTimeTimer(b.dateTime);
  }

  override onTimer(t: number, ctx: OnTimerContext<number>, out: Collector<ClosedAuction>): void {
    const w = this.window.value();
    if (w !== undefined) {
      if (!w.closed && t >= w.expires) {
        if (w.best >= 0) out.collect({ auction: ctx.getCurrentKey(), category: w.category, price: w.best });
        if (this.closedRetentionMs > 0) {
          w.closed = true;
          this.window.update(w);
          ctx.timerService().registerEventTimeTimer(w.expires + this.closedRetentionMs);
        } else {
          this.window.clear();
        }
      } else if (w.closed && t >= w.expires + this.closedRetentionMs) {
        this.window.clear();
      }
    }
    const early = this.early.get();
    if (early.length > 0) {
      const keep = early.filter((e) => e[0] > t);
      if (keep.length === 0) this.early.clear();
      else if (keep.length < early.length) this.early.update(keep);
    }
  }
}

/** The running average closing price of a category, one output per closed auction. */
export class CategoryAverageFunction extends KeyedProcessFunction<number, ClosedAuction, CategoryAverage> {
  private totals!: ValueState<[number, number]>;

  override open(): void {
    this.totals = this.getRuntimeContext().getState(new ValueStateDescriptor<[number, number]>('sum-count'));
  }

  processElement(c: ClosedAuction, _ctx: KeyedProcessContext<number>, out: Collector<CategoryAverage>): void {
    const t = this.totals.value() ?? [0, 0];
    const sum = t[0] + c.price;
    const count = t[1] + 1;
    this.totals.update([sum, count]);
    out.collect({ category: c.category, average: sum / count, count, sum });
  }
}

/** q4's first stage: the closing price of every auction with at least one valid bid. */
export function q4ClosingPrices(events: DataStream<NexmarkEvent>, options: Q4Options = {}): DataStream<ClosedAuction> {
  const prefix = options.uidPrefix ?? 'q4';
  return auctions(events, `${prefix}-auctions`)
    .connect(bids(events, `${prefix}-bids`))
    .keyBy(
      (a) => a.id,
      (b) => b.auction,
    )
    .process(new AuctionClosing(options.closedRetentionMs))
    .name('Closing prices')
    .uid(`${prefix}-closing`);
}

/**
 * q4, average closing price per category: the closing price of an auction is its highest bid
 * within [dateTime, expires], known when the auction closes; per category, the running average
 * of the closing prices, updated for every closed auction.
 */
export function q4(events: DataStream<NexmarkEvent>, options: Q4Options = {}): DataStream<CategoryAverage> {
  return q4ClosingPrices(events, options)
    .keyBy((c) => c.category)
    .process(new CategoryAverageFunction())
    .name('Average per category')
    .uid(`${options.uidPrefix ?? 'q4'}-average`);
}

export type QueryName = 'q0' | 'q1' | 'q2' | 'q3' | 'q4';
export const QUERY_NAMES: readonly QueryName[] = Object.freeze(['q0', 'q1', 'q2', 'q3', 'q4']);

/** The record type each query emits. */
export interface QueryResults {
  q0: Bid;
  q1: Bid;
  q2: AuctionPrice;
  q3: LocalItem;
  q4: CategoryAverage;
}

const QUERIES: { readonly [Q in QueryName]: (events: DataStream<NexmarkEvent>) => DataStream<QueryResults[Q]> } = { q0, q1, q2, q3, q4 };

/** A query by name, for jobs that take the query as an argument. */
export function query<Q extends QueryName>(name: Q): (events: DataStream<NexmarkEvent>) => DataStream<QueryResults[Q]> {
  if (!Object.hasOwn(QUERIES, name)) throw new RangeError(`unknown Nexmark query ${String(name)}; there are ${QUERY_NAMES.join(', ')}`);
  return QUERIES[name];
}
