/**
 * State backends by configuration name (`state.backend.type`). The runtime resolves the name once
 * per deployment; a backend is added by writing its module and listing its factory below, and
 * nothing in the runtime changes. The API objects given to env.setStateBackend() only set the
 * configuration key, so they resolve through the same names.
 */
import { ConfigError, type Configuration } from '../api/configuration.ts';
import { HASH_MAP_STATE_BACKEND } from './heap/hash-map-state-backend.ts';
import { ROCKSDB_STATE_BACKEND } from './rocksdb/embedded-rocksdb-state-backend.ts';
import type { StateBackend, StateBackendFactory } from './state-backend.ts';

/** The configuration key that selects the backend. */
export const STATE_BACKEND_KEY = 'state.backend.type';

/** Every backend, one line each. */
const FACTORIES: readonly StateBackendFactory[] = [HASH_MAP_STATE_BACKEND, ROCKSDB_STATE_BACKEND];

const BY_NAME = new Map<string, StateBackendFactory>();
for (const f of FACTORIES) {
  for (const name of [f.name, ...(f.aliases ?? [])]) {
    if (BY_NAME.has(name)) throw new Error(`internal: two state backends are registered as '${name}'`);
    BY_NAME.set(name, f);
  }
}

/** The registered factories, in registration order (each once, whatever its aliases). */
export function stateBackendFactories(): readonly StateBackendFactory[] {
  return FACTORIES;
}

/** Every accepted value of `state.backend.type`, names and aliases. */
export function knownStateBackendNames(): string[] {
  return [...BY_NAME.keys()];
}

/** The factory registered under `name`; a ConfigError naming the key and the known names otherwise. */
export function stateBackendFactory(name: string): StateBackendFactory {
  const f = BY_NAME.get(name);
  if (f === undefined) {
    throw new ConfigError(
      `${STATE_BACKEND_KEY}: unknown state backend ${JSON.stringify(name)}; known: ${knownStateBackendNames().join(', ')}`,
    );
  }
  return f;
}

/** The backend the configuration selects. */
export function resolveStateBackend(config: Configuration): StateBackend {
  return stateBackendFactory(config.get(STATE_BACKEND_KEY)).create(config);
}
