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

const MEMORY_UNITS: Record<string, number> = {
  '': 1, b: 1, bytes: 1,
  k: 1024, kb: 1024, kibibytes: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mebibytes: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gibibytes: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tebibytes: 1024 ** 4,
};

/** A size in bytes from a number (bytes) or a string with Flink's units: '64 mb', '1g', '512kb' (powers of 1024). */
export function parseMemorySize(raw: unknown, key: string): number {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
    const unit = m ? MEMORY_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
    if (m && unit !== undefined) return Math.round(Number(m[1]) * unit);
  }
  throw new ConfigError(`${key} must be a memory size (bytes, or e.g. "64 mb", "1 gb"), got ${JSON.stringify(raw)}`);
}
