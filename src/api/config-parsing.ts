/**
 * The error every invalid setting raises, and the duration syntax Flink's configuration accepts.
 * Shared by the configuration and the restart strategies, which both read user-given values.
 */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1, milli: 1, millis: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000, m: 60_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
};

/** A duration in ms from a number (ms) or a string with Flink's units: '500 ms', '10 s', '1 min', '1 h'. */
export function parseDuration(raw: unknown, key: string): number {
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return raw;
  if (typeof raw === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
    const unit = m ? DURATION_UNITS[(m[2] || 'ms').toLowerCase()] : undefined;
    if (m && unit !== undefined) return Number(m[1]) * unit;
  }
  throw new ConfigError(`${key} must be a duration (milliseconds, or e.g. "10 s", "1 min"), got ${JSON.stringify(raw)}`);
}
