/**
 * Restart strategies with Flink's names: what the job manager does when a job fails. A strategy
 * is plain data (a tagged union), chosen in code through `RestartStrategies` or in configuration
 * through Flink's `restart-strategy.*` keys; the runtime turns it into a RestartBackoffTimeStrategy.
 *
 * Every value is validated where it enters, with a message naming the parameter or the key,
 * so a bad strategy is rejected at submission rather than at the first failure.
 */
import { ConfigError, parseDuration } from './config-parsing.ts';

export { parseDuration };

export type RestartStrategyConfiguration =
  | { readonly kind: 'none' }
  | { readonly kind: 'fixed-delay'; readonly attempts: number; readonly delayMs: number }
  | {
      readonly kind: 'failure-rate';
      readonly maxFailuresPerInterval: number;
      readonly failureRateIntervalMs: number;
      readonly delayMs: number;
    }
  | {
      readonly kind: 'exponential-delay';
      readonly initialBackoffMs: number;
      readonly maxBackoffMs: number;
      readonly backoffMultiplier: number;
      readonly resetBackoffThresholdMs: number;
      readonly jitterFactor: number;
      /** Infinity: unlimited. */
      readonly attemptsBeforeResetBackoff: number;
    };

export type RestartStrategyKind = RestartStrategyConfiguration['kind'];

type ConfOf<K extends RestartStrategyKind> = Extract<RestartStrategyConfiguration, { kind: K }>;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Flink's defaults for every strategy parameter. */
export const RESTART_STRATEGY_DEFAULTS = Object.freeze({
  'fixed-delay': Object.freeze({ kind: 'fixed-delay', attempts: 1, delayMs: SECOND }),
  'failure-rate': Object.freeze({
    kind: 'failure-rate',
    maxFailuresPerInterval: 1,
    failureRateIntervalMs: MINUTE,
    delayMs: SECOND,
  }),
  'exponential-delay': Object.freeze({
    kind: 'exponential-delay',
    initialBackoffMs: SECOND,
    maxBackoffMs: MINUTE,
    backoffMultiplier: 1.5,
    resetBackoffThresholdMs: HOUR,
    jitterFactor: 0.1,
    attemptsBeforeResetBackoff: Number.POSITIVE_INFINITY,
  }),
} as const) satisfies { [K in Exclude<RestartStrategyKind, 'none'>]: ConfOf<K> };

// ---------------------------------------------------------------------------------------------
// Validation

function fail(label: string, requirement: string, value: unknown): never {
  throw new ConfigError(`${label} must be ${requirement}, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value); // JSON would print Infinity and NaN as null
  return JSON.stringify(value) ?? String(value);
}

/** A count: an integer >= min, or Infinity where "unlimited" makes sense. */
function checkCount(value: unknown, label: string, min: number, allowUnlimited: boolean): number {
  const ok =
    typeof value === 'number' &&
    ((Number.isInteger(value) && value >= min) || (allowUnlimited && value === Number.POSITIVE_INFINITY));
  if (!ok) fail(label, `an integer >= ${min}${allowUnlimited ? ' (or Infinity for unlimited)' : ''}`, value);
  return value;
}

/** A time span in ms: finite and >= min. */
function checkMillis(value: unknown, label: string, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    fail(label, min === 0 ? 'a non-negative number of milliseconds' : `at least ${min} ms`, value);
  }
  return value;
}

function checkRange(value: unknown, label: string, lo: number, hi: number): number {
  if (typeof value !== 'number' || !(value >= lo && value <= hi)) fail(label, `between ${lo} and ${hi}`, value);
  return value;
}

/**
 * Checks every parameter of a strategy and returns a frozen copy holding only its fields.
 * `labels` names the fields in error messages (parameter names or configuration keys);
 * by default the field names themselves.
 */
export function validateRestartStrategyConfiguration(
  conf: RestartStrategyConfiguration,
  labels?: Partial<Record<string, string>>,
): RestartStrategyConfiguration {
  const kind = (conf as { kind?: unknown } | null | undefined)?.kind;
  const named = (field: string): string => labels?.[field] ?? field;
  switch (kind) {
    case 'none':
      return Object.freeze({ kind: 'none' });
    case 'fixed-delay': {
      const c = conf as ConfOf<'fixed-delay'>;
      return Object.freeze({
        kind,
        attempts: checkCount(c.attempts, named('attempts'), 0, true),
        delayMs: checkMillis(c.delayMs, named('delayMs'), 0),
      });
    }
    case 'failure-rate': {
      const c = conf as ConfOf<'failure-rate'>;
      return Object.freeze({
        kind,
        // At least one failure per interval must be tolerated, or the strategy would be "none".
        maxFailuresPerInterval: checkCount(c.maxFailuresPerInterval, named('maxFailuresPerInterval'), 1, false),
        // An empty window could never hold a failure, so the rate would never be exceeded.
        failureRateIntervalMs: checkMillis(c.failureRateIntervalMs, named('failureRateIntervalMs'), 1),
        delayMs: checkMillis(c.delayMs, named('delayMs'), 0),
      });
    }
    case 'exponential-delay': {
      const c = conf as ConfOf<'exponential-delay'>;
      // The backoff grows by multiplication, so it has to start above zero.
      const initialBackoffMs = checkMillis(c.initialBackoffMs, named('initialBackoffMs'), 1);
      const maxBackoffMs = checkMillis(c.maxBackoffMs, named('maxBackoffMs'), 1);
      if (initialBackoffMs > maxBackoffMs) {
        throw new ConfigError(
          `${named('initialBackoffMs')} (${initialBackoffMs} ms) must not be greater than ` +
            `${named('maxBackoffMs')} (${maxBackoffMs} ms)`,
        );
      }
      const backoffMultiplier = c.backoffMultiplier;
      if (typeof backoffMultiplier !== 'number' || !Number.isFinite(backoffMultiplier) || backoffMultiplier < 1) {
        fail(named('backoffMultiplier'), 'a finite number >= 1', backoffMultiplier);
      }
      return Object.freeze({
        kind,
        initialBackoffMs,
        maxBackoffMs,
        backoffMultiplier,
        resetBackoffThresholdMs: checkMillis(c.resetBackoffThresholdMs, named('resetBackoffThresholdMs'), 1),
        jitterFactor: checkRange(c.jitterFactor, named('jitterFactor'), 0, 1),
        attemptsBeforeResetBackoff: checkCount(
          c.attemptsBeforeResetBackoff,
          named('attemptsBeforeResetBackoff'),
          1,
          true,
        ),
      });
    }
    default:
      throw new ConfigError(
        `restart strategy kind must be one of none, fixed-delay, failure-rate, exponential-delay, got ${describe(kind)}`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Builders

export const RestartStrategies = {
  /** The job fails at its first failure. */
  noRestart(): RestartStrategyConfiguration {
    return validateRestartStrategyConfiguration({ kind: 'none' });
  },

  /** Restarts up to `restartAttempts` times (Infinity: forever), waiting the same delay before each. */
  fixedDelayRestart(restartAttempts: number, delayBetweenAttemptsMs: number): RestartStrategyConfiguration {
    return validateRestartStrategyConfiguration(
      { kind: 'fixed-delay', attempts: restartAttempts, delayMs: delayBetweenAttemptsMs },
      { attempts: 'restartAttempts', delayMs: 'delayBetweenAttemptsMs' },
    );
  },

  /** Restarts as long as no more than `failureRate` failures fall within any `failureIntervalMs`. */
  failureRateRestart(failureRate: number, failureIntervalMs: number, delayIntervalMs: number): RestartStrategyConfiguration {
    return validateRestartStrategyConfiguration(
      {
        kind: 'failure-rate',
        maxFailuresPerInterval: failureRate,
        failureRateIntervalMs: failureIntervalMs,
        delayMs: delayIntervalMs,
      },
      { maxFailuresPerInterval: 'failureRate', failureRateIntervalMs: 'failureIntervalMs', delayMs: 'delayIntervalMs' },
    );
  },

  /**
   * Restarts forever with a growing delay, reset once the job has run without failure for the
   * reset threshold. Flink's defaults: initial 1 s, max 1 min, multiplier 1.5, reset threshold
   * 1 h, jitter 0.1, attempts before reset unlimited.
   */
  exponentialDelayRestart(
    initialBackoffMs: number = RESTART_STRATEGY_DEFAULTS['exponential-delay'].initialBackoffMs,
    maxBackoffMs: number = RESTART_STRATEGY_DEFAULTS['exponential-delay'].maxBackoffMs,
    backoffMultiplier: number = RESTART_STRATEGY_DEFAULTS['exponential-delay'].backoffMultiplier,
    resetBackoffThresholdMs: number = RESTART_STRATEGY_DEFAULTS['exponential-delay'].resetBackoffThresholdMs,
    jitterFactor: number = RESTART_STRATEGY_DEFAULTS['exponential-delay'].jitterFactor,
  ): RestartStrategyConfiguration {
    return validateRestartStrategyConfiguration({
      kind: 'exponential-delay',
      initialBackoffMs,
      maxBackoffMs,
      backoffMultiplier,
      resetBackoffThresholdMs,
      jitterFactor,
      attemptsBeforeResetBackoff: RESTART_STRATEGY_DEFAULTS['exponential-delay'].attemptsBeforeResetBackoff,
    });
  },
};

// ---------------------------------------------------------------------------------------------
// Configuration keys

/** A number from a number or a numeric string (values from files and command lines are strings). */
function parseNumber(value: unknown, key: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || Number.isNaN(n)) fail(key, 'a number', value);
  return n;
}

const TYPE_KEY = 'restart-strategy.type';

/** Flink's names for each kind; matched case-insensitively. */
const TYPE_ALIASES: Readonly<Record<string, RestartStrategyKind>> = {
  none: 'none', off: 'none', disable: 'none',
  'fixed-delay': 'fixed-delay', fixeddelay: 'fixed-delay',
  'failure-rate': 'failure-rate', failurerate: 'failure-rate',
  'exponential-delay': 'exponential-delay', exponentialdelay: 'exponential-delay',
};

interface KeySpec {
  readonly kind: Exclude<RestartStrategyKind, 'none'>;
  readonly field: string;
  readonly parse: (value: unknown, key: string) => number;
}

/** Every parameter key: which strategy field it sets and how its value is read. */
const PARAMETER_KEYS: Readonly<Record<string, KeySpec>> = {
  'restart-strategy.fixed-delay.attempts': { kind: 'fixed-delay', field: 'attempts', parse: parseNumber },
  'restart-strategy.fixed-delay.delay': { kind: 'fixed-delay', field: 'delayMs', parse: parseDuration },
  'restart-strategy.failure-rate.max-failures-per-interval': {
    kind: 'failure-rate',
    field: 'maxFailuresPerInterval',
    parse: parseNumber,
  },
  'restart-strategy.failure-rate.failure-rate-interval': {
    kind: 'failure-rate',
    field: 'failureRateIntervalMs',
    parse: parseDuration,
  },
  'restart-strategy.failure-rate.delay': { kind: 'failure-rate', field: 'delayMs', parse: parseDuration },
  'restart-strategy.exponential-delay.initial-backoff': {
    kind: 'exponential-delay',
    field: 'initialBackoffMs',
    parse: parseDuration,
  },
  'restart-strategy.exponential-delay.max-backoff': { kind: 'exponential-delay', field: 'maxBackoffMs', parse: parseDuration },
  'restart-strategy.exponential-delay.backoff-multiplier': {
    kind: 'exponential-delay',
    field: 'backoffMultiplier',
    parse: parseNumber,
  },
  'restart-strategy.exponential-delay.reset-backoff-threshold': {
    kind: 'exponential-delay',
    field: 'resetBackoffThresholdMs',
    parse: parseDuration,
  },
  'restart-strategy.exponential-delay.jitter-factor': { kind: 'exponential-delay', field: 'jitterFactor', parse: parseNumber },
  'restart-strategy.exponential-delay.attempts-before-reset-backoff': {
    kind: 'exponential-delay',
    field: 'attemptsBeforeResetBackoff',
    parse: parseNumber,
  },
};

/** Every key this module reads. */
export const RESTART_STRATEGY_KEYS: readonly string[] = [TYPE_KEY, ...Object.keys(PARAMETER_KEYS)];

/**
 * Reads and checks every `restart-strategy.*` key present, whatever the chosen type, so a typo or
 * a bad value is reported even in a section that is not in use. Keys outside the prefix are left
 * to their owners.
 */
function readParameters(options: Record<string, unknown>): Map<string, { spec: KeySpec; value: number }> {
  const read = new Map<string, { spec: KeySpec; value: number }>();
  for (const [key, raw] of Object.entries(options)) {
    if (!key.startsWith('restart-strategy.') || key === TYPE_KEY) continue;
    const spec = PARAMETER_KEYS[key];
    if (spec === undefined) {
      throw new ConfigError(`unknown configuration key "${key}" (known: ${RESTART_STRATEGY_KEYS.join(', ')})`);
    }
    if (raw === undefined) continue;
    read.set(key, { spec, value: spec.parse(raw, key) });
  }
  const sections = new Set([...read.values()].map((e) => e.spec.kind));
  for (const kind of sections) buildFromParameters(kind, read);
  return read;
}

/** One strategy from its defaults overlaid with the keys of its section; errors name the keys. */
function buildFromParameters(
  kind: Exclude<RestartStrategyKind, 'none'>,
  read: Map<string, { spec: KeySpec; value: number }>,
): RestartStrategyConfiguration {
  const fields: Record<string, unknown> = { ...RESTART_STRATEGY_DEFAULTS[kind] };
  const labels: Record<string, string> = {};
  for (const [key, spec] of Object.entries(PARAMETER_KEYS)) {
    if (spec.kind !== kind) continue;
    labels[spec.field] = key;
    const entry = read.get(key);
    if (entry !== undefined) fields[spec.field] = entry.value;
  }
  return validateRestartStrategyConfiguration(fields as RestartStrategyConfiguration, labels);
}

/**
 * The strategy from Flink's configuration keys: `restart-strategy.type` (none|off|disable,
 * fixed-delay|fixeddelay, failure-rate|failurerate, exponential-delay|exponentialdelay) and the
 * parameters of the chosen type, each defaulting as in Flink:
 * - `restart-strategy.fixed-delay.attempts` (1), `.delay` (1 s)
 * - `restart-strategy.failure-rate.max-failures-per-interval` (1), `.failure-rate-interval` (1 min), `.delay` (1 s)
 * - `restart-strategy.exponential-delay.initial-backoff` (1 s), `.max-backoff` (1 min),
 *   `.backoff-multiplier` (1.5), `.reset-backoff-threshold` (1 h), `.jitter-factor` (0.1),
 *   `.attempts-before-reset-backoff` (unlimited)
 *
 * Durations are numbers (ms) or strings such as '10 s'. Returns undefined when
 * `restart-strategy.type` is absent (see `defaultRestartStrategy`). Unknown `restart-strategy.*`
 * keys and bad values are a ConfigError naming the key.
 */
export function restartStrategyFromConfig(options: Record<string, unknown>): RestartStrategyConfiguration | undefined {
  const read = readParameters(options);
  const rawType = options[TYPE_KEY];
  if (rawType === undefined) return undefined;
  const kind = typeof rawType === 'string' ? TYPE_ALIASES[rawType.trim().toLowerCase()] : undefined;
  if (kind === undefined) {
    fail(TYPE_KEY, `one of ${Object.keys(TYPE_ALIASES).join(', ')}`, rawType);
  }
  return kind === 'none' ? validateRestartStrategyConfiguration({ kind }) : buildFromParameters(kind, read);
}

/**
 * Flink's default when no strategy is configured: exponential-delay when checkpointing is enabled
 * (a checkpoint to go back to makes restarting worthwhile), none otherwise. As in Flink, the
 * default exponential-delay strategy takes any `restart-strategy.exponential-delay.*` keys in
 * `options`.
 */
export function defaultRestartStrategy(
  checkpointingEnabled: boolean,
  options: Record<string, unknown> = {},
): RestartStrategyConfiguration {
  if (!checkpointingEnabled) return validateRestartStrategyConfiguration({ kind: 'none' });
  return buildFromParameters('exponential-delay', readParameters(options));
}

/** The configured strategy, or Flink's default for the job when none is configured. */
export function resolveRestartStrategy(
  options: Record<string, unknown>,
  checkpointingEnabled: boolean,
): RestartStrategyConfiguration {
  return restartStrategyFromConfig(options) ?? defaultRestartStrategy(checkpointingEnabled, options);
}
