/**
 * The seed's ClickSource: an unbounded stream of random clicks, one per interval, until the job
 * is cancelled. `maxEvents` bounds it (the seed has no bound; examples and tests use one), and
 * `seed` makes the sequence reproducible.
 */
import type { SourceContext, SourceFunction } from 'weir';
import { Event } from './event.ts';

export interface ClickSourceOptions {
  /** Pause between events; the seed uses one second. */
  readonly intervalMs?: number;
  /** Stop after this many events (default: never). */
  readonly maxEvents?: number;
  /** Seed for a reproducible sequence (default: random). */
  readonly seed?: number;
}

export class ClickSource implements SourceFunction<Event> {
  private running = true;
  static readonly users = ['Mary', 'Alice', 'Bob', 'Cary'];
  static readonly urls = ['./home', './cart', './fav', './prod?id=1', './prod?id=2'];

  constructor(private readonly options: ClickSourceOptions = {}) {}

  async run(ctx: SourceContext<Event>): Promise<void> {
    const random = seededRandom(this.options.seed ?? Math.floor(Math.random() * 2 ** 31));
    const { intervalMs = 1000, maxEvents = Infinity } = this.options;
    for (let n = 0; this.running && n < maxEvents; n++) {
      const user = ClickSource.users[Math.floor(random() * ClickSource.users.length)]!;
      const url = ClickSource.urls[Math.floor(random() * ClickSource.urls.length)]!;
      await ctx.collect(new Event(user, url, Date.now()));
      if (intervalMs > 0) await sleep(intervalMs);
    }
  }

  cancel(): void {
    this.running = false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** mulberry32: a small deterministic generator, so a seed gives the same clicks everywhere. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
