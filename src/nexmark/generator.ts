/**
 * A deterministic Nexmark event generator.
 *
 * Event number n (0, 1, 2, ...) alone decides event n, given the configuration and its seed:
 * its kind (n mod 50 with the default proportions: 1 person, then 3 auctions, then 46 bids),
 * its ids, its timestamp and every random choice in it, which come from a small PRNG seeded
 * with (seed, n). So any part of the event-number space can be generated anywhere, in any
 * order, and a reader's checkpointed position is just the next event number it would emit.
 *
 * The semantics follow the Nexmark suites of Apache Beam and Flink (the generator of the
 * nexmark/nexmark repository that Flink's published figures come from), including their default
 * configuration values:
 * - ids: persons and auctions are numbered in order of creation from 1000 (so even a small run
 *   finds join partners); category ids are 10..14;
 * - timestamps: event n happens `n / eventRate` seconds after `baseTime`, so timestamps never
 *   decrease with n;
 * - a bid is for a "hot" auction (the first of the latest batch of 100 auctions) with probability
 *   1 - 1/hotAuctionRatio, otherwise for one of the latest `numInFlightAuctions` auctions or up to
 *   10 auctions not created yet; the bidder is a hot bidder (the second person of the latest batch
 *   of 100) with probability 1 - 1/hotBiddersRatio, otherwise one of the latest `numActivePeople`
 *   persons or up to 10 persons not created yet;
 * - an auction's seller is a hot seller (the first person of the latest batch of 100) with
 *   probability 1 - 1/hotSellersRatio, otherwise chosen like a bidder; it expires after a random
 *   time averaging the time it takes to create `numInFlightAuctions` more auctions;
 * - the `extra` filler brings each record to an average size (200, 500 and 100 bytes);
 * - prices are 10^(6u) * 100 cents for u uniform in [0, 1): from $1 to $1,000,000, log-uniform.
 * The order of random draws within an event is this generator's own, so the events are not the
 * same as the Java generators' (which are not reproducible anyway: they seed from the clock).
 *
 * Cost: every random choice is a few 32-bit integer operations; strings are slices of two
 * random pools built once from the seed (a slice of a random string is a random string), and the
 * strings of the 10,000 channels are built once each, on first use. No closure, regular
 * expression or formatted string is created per event.
 */
import {
  auctionEvent,
  bidEvent,
  makeBid,
  personEvent,
  AUCTION,
  BID,
  PERSON,
  type Auction,
  type Bid,
  type EventType,
  type NexmarkEvent,
  type Person,
} from './model.ts';
import { fmix } from '../core/key-group.ts';

/** The generator's parameters; every field has the Nexmark default (see DEFAULT_CONFIG). */
export interface NexmarkConfig {
  /** Seeds every random choice: the same seed gives the same events. */
  readonly seed: number;
  /** Events to generate; 0 for an unbounded stream. */
  readonly maxEvents: number;
  /** Events per second of event time (the suites' firstEventRate); also the emission rate when rateLimited. */
  readonly eventRate: number;
  /** Event time of event 0, in ms since the epoch. */
  readonly baseTime: number;
  /** Out of each block of personProportion + auctionProportion + bidProportion events. */
  readonly personProportion: number;
  readonly auctionProportion: number;
  readonly bidProportion: number;
  /** Average sizes in bytes that the `extra` fields pad records to. */
  readonly avgPersonByteSize: number;
  readonly avgAuctionByteSize: number;
  readonly avgBidByteSize: number;
  /** A bid is for a hot auction with probability 1 - 1/hotAuctionRatio. */
  readonly hotAuctionRatio: number;
  /** An auction is by a hot seller with probability 1 - 1/hotSellersRatio. */
  readonly hotSellersRatio: number;
  /** A bid is by a hot bidder with probability 1 - 1/hotBiddersRatio. */
  readonly hotBiddersRatio: number;
  /** Auctions in flight on average: sets auction lengths and the range bids pick from. */
  readonly numInFlightAuctions: number;
  /** Latest persons that sellers and bidders are chosen from. */
  readonly numActivePeople: number;
  /**
   * Emit events no faster than `eventRate` per second of wall-clock time (the suites'
   * isRateLimited). Off by default: the source emits as fast as the job takes events.
   */
  readonly rateLimited: boolean;
}

/**
 * Flink's Nexmark defaults (NexmarkConfiguration and the nexmark source options), except two that
 * depend on the run there: the base time, fixed here so that runs are reproducible (Beam's base
 * time, 2015-07-15T00:00:00Z), and the number of events (unbounded). Flink's published benchmark
 * sets eventRate to 10,000,000 and maxEvents to 100,000,000.
 */
export const DEFAULT_CONFIG: NexmarkConfig = Object.freeze({
  seed: 1,
  maxEvents: 0,
  eventRate: 10_000,
  baseTime: Date.UTC(2015, 6, 15),
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numInFlightAuctions: 100,
  numActivePeople: 1000,
  rateLimited: false,
});

/** Ids start here so that queries find matches even on small runs. */
export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
export const NUM_CATEGORIES = 5;
/** How many not-yet-created persons / auctions a random choice may reach ahead. */
export const PERSON_ID_LEAD = 10;
export const AUCTION_ID_LEAD = 10;
/** Hot sellers, bidders and auctions are the first (bidders: second) of each batch of this many. */
export const HOT_BATCH = 100;
/** Bids come from a hot channel with probability 1 - 1/HOT_CHANNELS_RATIO. */
export const HOT_CHANNELS_RATIO = 2;
export const NUM_CHANNELS = 10_000;
export const HOT_CHANNELS: readonly string[] = Object.freeze(['Google', 'Facebook', 'Baidu', 'Apple']);

/** Six states, so that q3 (OR, ID or CA) matches half of all persons even in small runs. */
export const US_STATES: readonly string[] = Object.freeze(['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']);
const CITIES: readonly string[] = ['Tucson', 'Sacramento', 'Fresno', 'Idaho Falls', 'Eugene', 'Salem', 'Spokane', 'Tacoma', 'Laramie', 'Casper'];
const FIRST_NAMES: readonly string[] = ['Ada', 'Bruno', 'Clara', 'Dmitri', 'Elena', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jonas', 'Keiko'];
const LAST_NAMES: readonly string[] = ['Alvarez', 'Becker', 'Chen', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Hansen', 'Ito'];
/** Every "first last" combination, built once: a person's name costs no concatenation. */
const FULL_NAMES: readonly string[] = FIRST_NAMES.flatMap((f) => LAST_NAMES.map((l) => `${f} ${l}`));
/** "0000".."9999", built on first use, for credit card numbers. */
let fourDigits: string[] | undefined;

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;
/** Lengths of the random string pools; longer than any string taken from them. */
const LETTER_POOL = 1 << 15;
const SPACED_POOL = 1 << 13;

/** Validates and completes a configuration. */
export function nexmarkConfig(overrides: Partial<NexmarkConfig> = {}): NexmarkConfig {
  const c: NexmarkConfig = Object.freeze({ ...DEFAULT_CONFIG, ...overrides });
  const wholeAtLeast = (key: keyof NexmarkConfig, min: number): void => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw new RangeError(`nexmark: ${key} must be an integer >= ${min}, got ${String(v)}`);
    }
  };
  wholeAtLeast('maxEvents', 0);
  wholeAtLeast('baseTime', 0);
  for (const k of ['personProportion', 'auctionProportion', 'bidProportion', 'hotAuctionRatio', 'hotSellersRatio', 'hotBiddersRatio', 'numInFlightAuctions', 'numActivePeople'] as const) {
    wholeAtLeast(k, 1);
  }
  for (const k of ['avgPersonByteSize', 'avgAuctionByteSize', 'avgBidByteSize'] as const) wholeAtLeast(k, 0);
  if (typeof c.seed !== 'number' || !Number.isSafeInteger(c.seed)) throw new RangeError(`nexmark: seed must be a safe integer, got ${String(c.seed)}`);
  if (typeof c.eventRate !== 'number' || !Number.isFinite(c.eventRate) || c.eventRate <= 0) {
    throw new RangeError(`nexmark: eventRate must be a positive number of events per second, got ${String(c.eventRate)}`);
  }
  if (typeof c.rateLimited !== 'boolean') throw new TypeError(`nexmark: rateLimited must be a boolean, got ${String(c.rateLimited)}`);
  return c;
}

/** murmur3's 32-bit finaliser, unsigned. */
function fmix32(h: number): number {
  return fmix(h) >>> 0;
}

/** The generator of one configuration. Instances hold caches only: eventAt(n) is a pure function of (config, n). */
export class NexmarkGenerator {
  readonly config: NexmarkConfig;
  /** personProportion + auctionProportion + bidProportion: the length of a block. */
  readonly blockSize: number;
  readonly #seedLo: number;
  readonly #seedHi: number;
  /** The PRNG state (mulberry32) of the event being generated. */
  #s = 0;
  readonly #letters: string;
  readonly #spaced: string;
  readonly #hotUrls: string[];
  readonly #channelNames: (string | undefined)[] = new Array(NUM_CHANNELS);
  readonly #channelUrls: (string | undefined)[] = new Array(NUM_CHANNELS);
  readonly #pp: number;
  readonly #ap: number;
  readonly #eventsForInFlightAuctions: number;

  constructor(config: Partial<NexmarkConfig> = {}) {
    this.config = nexmarkConfig(config);
    const c = this.config;
    this.blockSize = c.personProportion + c.auctionProportion + c.bidProportion;
    this.#pp = c.personProportion;
    this.#ap = c.auctionProportion;
    // How many events it takes to create numInFlightAuctions auctions: auction lengths average
    // the event time those events span.
    this.#eventsForInFlightAuctions = Math.floor((c.numInFlightAuctions * this.blockSize) / c.auctionProportion);
    this.#seedLo = fmix32((c.seed >>> 0) ^ 0x2545f491);
    this.#seedHi = fmix32(Math.floor(c.seed / TWO_32) ^ 0x9e3779b9);
    // The pools and URLs come from streams of their own, apart from every event's.
    this.#reseed(-1);
    this.#letters = this.#randomString(LETTER_POOL, 0);
    this.#reseed(-2);
    this.#spaced = this.#randomString(SPACED_POOL, 13);
    this.#hotUrls = HOT_CHANNELS.map((_, i) => {
      this.#reseed(-3 - i);
      return this.#baseUrl();
    });
  }

  // ---- the event-number space -----------------------------------------------------------------

  /** Which kind of event number n is. */
  typeOf(n: number): EventType {
    const offset = n % this.blockSize;
    return offset < this.#pp ? PERSON : offset < this.#pp + this.#ap ? AUCTION : BID;
  }

  /** The event time of event n: never decreasing in n. */
  timestampOf(n: number): number {
    return this.config.baseTime + Math.floor((n * 1000) / this.config.eventRate);
  }

  /** The newest person id (from 0) at event n: the one event n creates, if it creates one. */
  lastBase0PersonId(n: number): number {
    const block = Math.floor(n / this.blockSize);
    let offset = n % this.blockSize;
    if (offset >= this.#pp) offset = this.#pp - 1;
    return block * this.#pp + offset;
  }

  /** The newest auction id (from 0) at event n: the one event n creates, if it creates one (-1 before the first). */
  lastBase0AuctionId(n: number): number {
    let block = Math.floor(n / this.blockSize);
    let offset = n % this.blockSize;
    if (offset < this.#pp) {
      block--;
      offset = this.#ap - 1;
    } else if (offset >= this.#pp + this.#ap) {
      offset = this.#ap - 1;
    } else {
      offset -= this.#pp;
    }
    return block * this.#ap + offset;
  }

  /** The event number that creates the person with this id. */
  personEventNumber(personId: number): number {
    const base0 = personId - FIRST_PERSON_ID;
    return Math.floor(base0 / this.#pp) * this.blockSize + (base0 % this.#pp);
  }

  /** The event number that creates the auction with this id. */
  auctionEventNumber(auctionId: number): number {
    const base0 = auctionId - FIRST_AUCTION_ID;
    return Math.floor(base0 / this.#ap) * this.blockSize + this.#pp + (base0 % this.#ap);
  }

  // ---- events ---------------------------------------------------------------------------------

  /** Event number n (0-based). */
  eventAt(n: number): NexmarkEvent {
    this.#reseed(n);
    const offset = n % this.blockSize;
    const ts = this.timestampOf(n);
    if (offset < this.#pp) return personEvent(this.#person(n, ts));
    if (offset < this.#pp + this.#ap) return auctionEvent(this.#auction(n, ts));
    return bidEvent(this.#bid(n, ts));
  }

  #person(n: number, ts: number): Person {
    const name = FULL_NAMES[this.#int(FULL_NAMES.length)]!;
    const emailAddress = this.#string(7) + '@' + this.#string(5) + '.com';
    const creditCard = this.#creditCard();
    const city = CITIES[this.#int(CITIES.length)]!;
    const state = US_STATES[this.#int(US_STATES.length)]!;
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
    const extra = this.#extra(size, this.config.avgPersonByteSize);
    return { id: FIRST_PERSON_ID + this.lastBase0PersonId(n), name, emailAddress, creditCard, city, state, dateTime: ts, extra };
  }

  #auction(n: number, ts: number): Auction {
    const c = this.config;
    const id = FIRST_AUCTION_ID + this.lastBase0AuctionId(n);
    const seller =
      FIRST_PERSON_ID +
      (this.#int(c.hotSellersRatio) > 0 ? Math.floor(this.lastBase0PersonId(n) / HOT_BATCH) * HOT_BATCH : this.#randomPerson(n));
    const category = FIRST_CATEGORY_ID + this.#int(NUM_CATEGORIES);
    const initialBid = this.#price();
    // Lengths average the time until numInFlightAuctions more auctions exist, so that about that
    // many are open at any time.
    const horizon = this.timestampOf(n + this.#eventsForInFlightAuctions) - ts;
    const expires = ts + 1 + this.#long(Math.max(horizon * 2, 1));
    const itemName = this.#string(20);
    const description = this.#string(100);
    const reserve = initialBid + this.#price();
    const size = 8 + itemName.length + description.length + 40;
    const extra = this.#extra(size, c.avgAuctionByteSize);
    return { id, itemName, description, initialBid, reserve, dateTime: ts, expires, seller, category, extra };
  }

  #bid(n: number, ts: number): Bid {
    const c = this.config;
    const auction =
      FIRST_AUCTION_ID +
      (this.#int(c.hotAuctionRatio) > 0 ? Math.floor(this.lastBase0AuctionId(n) / HOT_BATCH) * HOT_BATCH : this.#randomAuction(n));
    // The second person of the batch, so that hot bidders are not the hot sellers.
    const bidder =
      FIRST_PERSON_ID +
      (this.#int(c.hotBiddersRatio) > 0 ? Math.floor(this.lastBase0PersonId(n) / HOT_BATCH) * HOT_BATCH + 1 : this.#randomPerson(n));
    const price = this.#price();
    let channel: string;
    let url: string;
    if (this.#int(HOT_CHANNELS_RATIO) > 0) {
      const i = this.#int(HOT_CHANNELS.length);
      channel = HOT_CHANNELS[i]!;
      url = this.#hotUrls[i]!;
    } else {
      const k = this.#int(NUM_CHANNELS);
      channel = this.#channelNames[k] ?? this.#channel(k);
      url = this.#channelUrls[k]!;
    }
    const extra = this.#extra(32, c.avgBidByteSize);
    return makeBid(auction, bidder, price, channel, url, ts, extra);
  }

  /** One of the latest numActivePeople persons, or one of the next PERSON_ID_LEAD ones. */
  #randomPerson(n: number): number {
    const people = this.lastBase0PersonId(n) + 1;
    const active = Math.min(people, this.config.numActivePeople);
    return people - active + this.#long(active + PERSON_ID_LEAD);
  }

  /** One of the latest numInFlightAuctions auctions, or one of the next AUCTION_ID_LEAD ones. */
  #randomAuction(n: number): number {
    const newest = this.lastBase0AuctionId(n);
    const oldest = Math.max(newest - this.config.numInFlightAuctions, 0);
    return oldest + this.#long(newest - oldest + 1 + AUCTION_ID_LEAD);
  }

  // ---- random values --------------------------------------------------------------------------

  /** Starts the random stream of event n (negative n: the generator's own streams). */
  #reseed(n: number): void {
    const lo = n >>> 0;
    const hi = Math.floor(n / TWO_32) >>> 0;
    this.#s = fmix32(fmix32(lo ^ this.#seedLo) + Math.imul(hi ^ this.#seedHi, 0x9e3779b9));
  }

  /** The next 32 random bits (mulberry32). */
  #u32(): number {
    this.#s = (this.#s + 0x6d2b79f5) | 0;
    const s = this.#s;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, bound) for 1 <= bound <= 2^32. */
  #int(bound: number): number {
    return Math.floor((this.#u32() / TWO_32) * bound);
  }

  /** Uniform in [0, bound) for any safe bound >= 1. */
  #long(bound: number): number {
    if (bound <= TWO_32) return this.#int(bound);
    const d = (this.#u32() * 2097152 + (this.#u32() >>> 11)) / TWO_53;
    return Math.floor(d * bound);
  }

  /** Log-uniform from 100 to 100,000,000 cents. */
  #price(): number {
    return Math.round(Math.pow(10, (this.#u32() / TWO_32) * 6) * 100);
  }

  /** 3 to maxLength - 1 random letters with about one space in 13, trimmed. */
  #string(maxLength: number): string {
    const length = 3 + this.#int(maxLength - 3);
    const at = this.#int(SPACED_POOL - length);
    return this.#spaced.substring(at, at + length).trim();
  }

  /** Filler that brings a record of `size` bytes to `average` bytes on average (uniform within ±20 %). */
  #extra(size: number, average: number): string {
    if (size > average) return '';
    const wanted = average - size;
    const delta = Math.round(wanted * 0.2);
    const length = wanted - delta + (delta === 0 ? 0 : this.#int(2 * delta));
    const at = this.#int(LETTER_POOL - length);
    return this.#letters.substring(at, at + length);
  }

  #creditCard(): string {
    fourDigits ??= Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0'));
    const d = fourDigits;
    return d[this.#int(10_000)]! + ' ' + d[this.#int(10_000)]! + ' ' + d[this.#int(10_000)]! + ' ' + d[this.#int(10_000)]!;
  }

  /** `length` random lowercase letters, with a space instead with probability 1/spaceOneIn (0: never). */
  #randomString(length: number, spaceOneIn: number): string {
    const codes = new Uint16Array(length);
    for (let i = 0; i < length; i++) codes[i] = spaceOneIn > 0 && this.#int(spaceOneIn) === 0 ? 32 : 97 + this.#int(26);
    let out = '';
    for (let i = 0; i < length; i += 4096) out += String.fromCharCode(...codes.subarray(i, i + 4096));
    return out;
  }

  #baseUrl(): string {
    const part = (): string => this.#string(5).replaceAll(' ', '_');
    return `https://www.nexmark.com/${part()}/${part()}/${part()}/item.htm?query=1`;
  }

  /** Builds (once) the name and URL of channel k; 9 in 10 URLs carry a channel id. */
  #channel(k: number): string {
    const saved = this.#s;
    this.#reseed(-100 - k);
    let url = this.#baseUrl();
    if (this.#int(10) > 0) url += `&channel_id=${reverseBits(k)}`;
    this.#s = saved;
    const name = `channel-${k}`;
    this.#channelNames[k] = name;
    this.#channelUrls[k] = url;
    return name;
  }
}

/** The 32 bits of k in reverse order, as a non-negative number: an opaque but stable channel id. */
function reverseBits(k: number): number {
  let r = 0;
  for (let i = 0; i < 32; i++) {
    r = (r << 1) | (k & 1);
    k >>>= 1;
  }
  return Math.abs(r | 0);
}
