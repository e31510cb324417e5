/**
 * Metric reporters configured with Flink's keys:
 *
 *   metrics.reporters                              optional: the reporter names to start (comma-separated); all configured ones by default
 *   metrics.reporter.<name>.factory.class          which reporter: Flink's PrometheusReporterFactory class name, or weir's `prometheus`
 *   metrics.reporter.<name>.port                   a port, or a range like `9249-9260` (the first free one is taken, so a
 *                                                  JobManager and TaskManagers on one host can share the setting); 9249 by default
 *   metrics.reporter.<name>.host                   the interface to listen on (weir's own key); 127.0.0.1 by default
 *   metrics.reporter.<name>.filterLabelValueCharacters   `true` (default) or `false`, as Flink
 *
 * Other `metrics.*` keys are none of the reporters' business and are passed over, except that the
 * scope keys are checked here too, since every cluster process reads its configuration through
 * this function first: `metrics.scope.jm`, `metrics.scope.tm` and `metrics.scope.delimiter` name
 * the processes' groups (a bad one is a ConfigError naming the key); the formats of a job's
 * groups are the job's configuration (`weir run -D`), and a cluster refuses them with a pointer
 * there rather than ignoring them. A bad value or an unknown key under `metrics.reporter.<name>.`
 * is a MetricsConfigError naming the key.
 */
import { SCOPE_FORMAT_KEYS } from '../api/metric-scope-format.ts';
import { clusterScopeFormats } from '../runtime/metrics/configured-scopes.ts';

/** The scope keys of a job's groups, which a job's configuration sets rather than a cluster's. */
const JOB_SCOPE_KEYS = (['jm-job', 'tm-job', 'task', 'operator'] as const).flatMap((k) => SCOPE_FORMAT_KEYS[k]);

/** The factory classes that make a Prometheus reporter. */
export const PROMETHEUS_FACTORY_CLASSES = ['org.apache.flink.metrics.prometheus.PrometheusReporterFactory', 'prometheus'] as const;

export class MetricsConfigError extends Error {
  override readonly name = 'MetricsConfigError';
}

export interface PrometheusReporterConfig {
  readonly name: string;
  /** Ports to try, in order. */
  readonly ports: { readonly from: number; readonly to: number };
  readonly host: string;
  readonly filterLabelValueCharacters: boolean;
}

const REPORTER_KEYS = ['factory.class', 'port', 'host', 'filterLabelValueCharacters', 'interval'];

function portRange(key: string, raw: string): { from: number; to: number } {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(raw);
  const from = m ? Number(m[1]) : Number.NaN;
  const to = m ? Number(m[2] ?? m[1]) : Number.NaN;
  if (!m || from < 1 || to > 65535 || to < from) {
    throw new MetricsConfigError(`${key}: "${raw}" is not a port (1-65535) or a port range like 9249-9260`);
  }
  return { from, to };
}

/** The reporters `config` asks for; throws MetricsConfigError on bad configuration. */
export function reporterConfigs(config: Readonly<Record<string, string>>): PrometheusReporterConfig[] {
  for (const key of JOB_SCOPE_KEYS) {
    if (Object.hasOwn(config, key)) throw new MetricsConfigError(`${key}: the scope format of a job's metrics is set on the job (weir run -D ${key}=…), not on the cluster`);
  }
  clusterScopeFormats(config);
  const byName = new Map<string, Map<string, string>>();
  for (const [key, value] of Object.entries(config)) {
    if (!key.startsWith('metrics.reporter.')) continue;
    const rest = key.slice('metrics.reporter.'.length);
    const dot = rest.indexOf('.');
    if (dot <= 0) throw new MetricsConfigError(`${key}: a reporter key is metrics.reporter.<name>.<option> (options: ${REPORTER_KEYS.join(', ')})`);
    const name = rest.slice(0, dot);
    const option = rest.slice(dot + 1);
    if (!REPORTER_KEYS.includes(option)) throw new MetricsConfigError(`${key}: unknown reporter option "${option}" (known: ${REPORTER_KEYS.join(', ')})`);
    let options = byName.get(name);
    if (options === undefined) {
      options = new Map();
      byName.set(name, options);
    }
    options.set(option, String(value));
  }
  const listed = config['metrics.reporters'];
  const names = listed === undefined ? [...byName.keys()] : listed.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return names.map((name) => {
    const options = byName.get(name);
    const at = (option: string) => `metrics.reporter.${name}.${option}`;
    const factory = options?.get('factory.class');
    if (factory === undefined) {
      throw new MetricsConfigError(`${at('factory.class')} is missing${listed === undefined ? '' : ' (the reporter is named in metrics.reporters)'}: set it to ${PROMETHEUS_FACTORY_CLASSES.join(' or ')}`);
    }
    if (!(PROMETHEUS_FACTORY_CLASSES as readonly string[]).includes(factory.trim())) {
      throw new MetricsConfigError(`${at('factory.class')}: unknown reporter factory "${factory}" (known: ${PROMETHEUS_FACTORY_CLASSES.join(', ')})`);
    }
    const filterValue = options?.get('filterLabelValueCharacters') ?? 'true';
    if (filterValue !== 'true' && filterValue !== 'false') throw new MetricsConfigError(`${at('filterLabelValueCharacters')}: "${filterValue}" is not true or false`);
    const host = options?.get('host') ?? '127.0.0.1';
    if (host.trim() === '') throw new MetricsConfigError(`${at('host')}: an interface to listen on is needed, got an empty value`);
    return { name, ports: portRange(at('port'), options?.get('port') ?? '9249'), host, filterLabelValueCharacters: filterValue === 'true' };
  });
}
