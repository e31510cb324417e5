/**
 * weir/nexmark: the Nexmark benchmark for weir — a deterministic event generator, a replayable
 * parallel source over it, and queries q0–q4 written with the DataStream API (docs/nexmark.md).
 */
export * from './model.ts';
export {
  DEFAULT_CONFIG,
  FIRST_AUCTION_ID,
  FIRST_CATEGORY_ID,
  FIRST_PERSON_ID,
  HOT_BATCH,
  HOT_CHANNELS,
  NUM_CATEGORIES,
  NUM_CHANNELS,
  AUCTION_ID_LEAD,
  PERSON_ID_LEAD,
  US_STATES,
  NexmarkGenerator,
  nexmarkConfig,
  type NexmarkConfig,
} from './generator.ts';
export { NexmarkSource, nexmarkWatermarkStrategy, type NexmarkSplit } from './source.ts';
export {
  AuctionClosing,
  CategoryAverageFunction,
  DOLLARS_TO_EUROS,
  LocalItemJoin,
  Q2_AUCTION_MODULUS,
  Q3_CATEGORY,
  Q3_STATES,
  QUERY_NAMES,
  auctions,
  bids,
  nexmarkEvents,
  persons,
  q0,
  q1,
  q2,
  q3,
  q4,
  q4ClosedRetentionMs,
  q4ClosingPrices,
  query,
  type NexmarkEventsOptions,
  type Q4Options,
  type QueryName,
  type QueryResults,
} from './queries.ts';
