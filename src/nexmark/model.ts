/**
 * The Nexmark data model: an online auction system with three entities, as Apache Beam's and
 * Flink's Nexmark suites define them. A Person registers (and may sell and bid), an Auction offers
 * an item for a period of time, a Bid offers a price for an auction. Times are milliseconds since
 * the epoch (the suites use `Instant`); prices are in cents (whole numbers).
 *
 * Records are plain objects of fixed shape, created by one factory each, so that V8 sees a single
 * hidden class per entity and msgpack shares one record structure per entity across threads.
 */

export interface Person {
  /** Unique, assigned in order from FIRST_PERSON_ID. */
  readonly id: number;
  readonly name: string;
  readonly emailAddress: string;
  readonly creditCard: string;
  readonly city: string;
  /** A US state code; queries filter on it (q3: OR, ID, CA). */
  readonly state: string;
  /** When the person registered (event time). */
  readonly dateTime: number;
  /** Filler that brings the record to its configured average size. */
  readonly extra: string;
}

export interface Auction {
  /** Unique, assigned in order from FIRST_AUCTION_ID. */
  readonly id: number;
  readonly itemName: string;
  readonly description: string;
  readonly initialBid: number;
  /** At least initialBid. */
  readonly reserve: number;
  /** When the auction opened (event time). */
  readonly dateTime: number;
  /** When it closes; always after dateTime. */
  readonly expires: number;
  /** The selling person's id. */
  readonly seller: number;
  /** FIRST_CATEGORY_ID .. FIRST_CATEGORY_ID + NUM_CATEGORIES - 1. */
  readonly category: number;
  readonly extra: string;
}

export interface Bid {
  /** The auction bid on. */
  readonly auction: number;
  /** The bidding person's id. */
  readonly bidder: number;
  readonly price: number;
  /** Where the bid came from: a hot channel ("Google", ...) or "channel-<n>". */
  readonly channel: string;
  readonly url: string;
  /** When the bid was placed (event time). */
  readonly dateTime: number;
  readonly extra: string;
}

/**
 * Creates a bid. Every bid should come from here or from a literal with the same property order,
 * so that they all share one hidden class.
 */
export function makeBid(auction: number, bidder: number, price: number, channel: string, url: string, dateTime: number, extra: string): Bid {
  return { auction, bidder, price, channel, url, dateTime, extra };
}

// Prices are whole cents when generated, but derived bids (q1's euros) carry fractions. V8 first
// stores a field of whole numbers untagged; the first fraction then changes the field's
// representation for every object of the shape and deoptimises the code that creates them, which
// measurably slowed the generator for the rest of the process. A fraction stored first makes the
// field a double from the start.
makeBid(0, 0, 0.5, '', '', 0.5, '');

export const PERSON = 0;
export const AUCTION = 1;
export const BID = 2;
export type EventType = typeof PERSON | typeof AUCTION | typeof BID;

/**
 * One generated event: exactly one of person, auction and bid is set, as `type` says (Flink's
 * Nexmark `Event` has the same shape). One shape for all three kinds keeps the type test on the
 * hot path monomorphic.
 */
export type NexmarkEvent =
  | { readonly type: typeof PERSON; readonly person: Person; readonly auction: null; readonly bid: null }
  | { readonly type: typeof AUCTION; readonly person: null; readonly auction: Auction; readonly bid: null }
  | { readonly type: typeof BID; readonly person: null; readonly auction: null; readonly bid: Bid };

export function personEvent(person: Person): NexmarkEvent {
  return { type: PERSON, person, auction: null, bid: null } as NexmarkEvent;
}

export function auctionEvent(auction: Auction): NexmarkEvent {
  return { type: AUCTION, person: null, auction, bid: null } as NexmarkEvent;
}

export function bidEvent(bid: Bid): NexmarkEvent {
  return { type: BID, person: null, auction: null, bid } as NexmarkEvent;
}

/** The event time of an event. */
export function eventTime(e: NexmarkEvent): number {
  return e.type === BID ? e.bid.dateTime : e.type === AUCTION ? e.auction.dateTime : e.person.dateTime;
}

// ---- query results --------------------------------------------------------------------------

/** q2: a bid on one of the selected auctions. */
export interface AuctionPrice {
  readonly auction: number;
  readonly price: number;
}

/** q3: a seller in OR, ID or CA with an auction in category 10. */
export interface LocalItem {
  readonly name: string;
  readonly city: string;
  readonly state: string;
  /** The auction's id. */
  readonly id: number;
}

/** q4, first stage: the winning price of a closed auction. */
export interface ClosedAuction {
  readonly auction: number;
  readonly category: number;
  /** The highest bid placed within [dateTime, expires]. */
  readonly price: number;
}

/** q4: the running average closing price of a category after `count` closed auctions. */
export interface CategoryAverage {
  readonly category: number;
  readonly average: number;
  /** Closed auctions (with at least one valid bid) of the category so far. */
  readonly count: number;
  /** Sum of their closing prices; exact, so `sum / count` is the same wherever it is computed. */
  readonly sum: number;
}
