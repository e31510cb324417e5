/**
 * The metric scope formats a job's configuration sets (`metrics.scope.*`, validated when they
 * were set), or a cluster's configuration given as plain key/value strings (`-D`), where they are
 * validated here. Flink's defaults where nothing is set.
 */
import { isConfigKey, type Configuration } from '../../api/configuration.ts';
import { scopeFormats, type ScopeFormats } from '../../api/metric-scope-format.ts';

export function jobScopeFormats(config: Configuration): ScopeFormats {
  return scopeFormats((key) => (isConfigKey(key) ? config.get(key) : undefined));
}

/** A ConfigError naming the key when a format or the delimiter is bad. */
export function clusterScopeFormats(config: Readonly<Record<string, string>>): ScopeFormats {
  return scopeFormats((key) => (Object.hasOwn(config, key) ? config[key] : undefined));
}
