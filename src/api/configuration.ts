/**
 * Job configuration by Flink's option keys. Every key is declared once with its type, default
 * and validation, so a wrong key or value is rejected at submission with a message naming it.
 */

export type ExecutionMode = 'threads' | 'inline';

export interface ConfigValues {
  /** Default parallelism of operators that set none. */
  'parallelism.default': number;
  /** Upper bound for rescaling keyed state; undefined: derived from the parallelism as Flink does. */
  'pipeline.max-parallelism': number | undefined;
  /** How often watermark generators are asked for a periodic watermark (ms); 0 disables. */
  'pipeline.auto-watermark-interval': number;
  /** 'threads': one worker thread per slot. 'inline': every subtask on the calling thread. */
  'weir.execution.mode': ExecutionMode;
  /** Records per buffer between tasks before a buffer is sent without waiting for the end of the turn. */
  'weir.network.buffer-records': number;
  /** Buffers a consumer lets each input channel have in flight (credits). */
  'weir.network.credits-per-channel': number;
}

export type ConfigKey = keyof ConfigValues;

interface OptionSpec<K extends ConfigKey> {
  parse(raw: unknown, key: K): ConfigValues[K];
}

function positiveInt(max = Number.MAX_SAFE_INTEGER) {
  return (raw: unknown, key: string): number => {
    const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
      throw new ConfigError(`${key} must be an integer between 1 and ${max}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
}

function nonNegativeInt(raw: unknown, key: string): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new ConfigError(`${key} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const OPTIONS: { [K in ConfigKey]: OptionSpec<K> } = {
  'parallelism.default': { parse: positiveInt(32768) },
  'pipeline.max-parallelism': {
    parse: (raw, key) => (raw === undefined ? undefined : positiveInt(32768)(raw, key)),
  },
  'pipeline.auto-watermark-interval': { parse: nonNegativeInt },
  'weir.execution.mode': {
    parse(raw, key) {
      if (raw === 'threads' || raw === 'inline') return raw;
      throw new ConfigError(`${key} must be "threads" or "inline", got ${JSON.stringify(raw)}`);
    },
  },
  'weir.network.buffer-records': { parse: positiveInt(1 << 20) },
  'weir.network.credits-per-channel': { parse: positiveInt(1024) },
};

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(OPTIONS, key);
}

/** Typed, validated option values. */
export class Configuration {
  #values: ConfigValues;

  constructor(initial: Partial<Record<string, unknown>> = {}) {
    this.#values = {
      'parallelism.default': 1,
      'pipeline.max-parallelism': undefined,
      'pipeline.auto-watermark-interval': 200,
      'weir.execution.mode': 'threads',
      'weir.network.buffer-records': 512,
      'weir.network.credits-per-channel': 4,
    };
    for (const [key, value] of Object.entries(initial)) this.setString(key, value);
  }

  get<K extends ConfigKey>(key: K): ConfigValues[K] {
    return this.#values[key];
  }

  set<K extends ConfigKey>(key: K, value: ConfigValues[K]): this {
    this.#values[key] = (OPTIONS[key] as OptionSpec<K>).parse(value, key);
    return this;
  }

  /** Sets an option from untyped input (a file, the command line); unknown keys are an error. */
  setString(key: string, value: unknown): this {
    if (!isConfigKey(key)) {
      throw new ConfigError(`unknown configuration key "${key}" (known: ${Object.keys(OPTIONS).join(', ')})`);
    }
    return this.set(key, value as never);
  }

  toObject(): ConfigValues {
    return { ...this.#values };
  }

  clone(): Configuration {
    const c = new Configuration();
    c.#values = { ...this.#values };
    return c;
  }
}
