/**
 * Flink's metric scope formats (`metrics.scope.*`): which components, in which order, make the
 * scope of a group's metrics, and so their identifiers (`getMetricIdentifier`, the names of
 * reporters without labels). A format is components separated by `.`; a component is a literal
 * or one of the group's variables in angle brackets (`<host>`, `<job_name>`, …), replaced by its
 * value; a first component `*` stands for the parent group's scope (the job's for a task, the
 * task's for an operator), as in Flink. The delimiter (`metrics.scope.delimiter`, one character,
 * `.` by default) joins the components and the metric's name into the identifier.
 *
 * Formats decide names only: the logical scope and the variables (Prometheus's names and labels)
 * and the REST API's metric ids do not depend on them.
 */
import { ConfigError } from './config-parsing.ts';

/** The groups a format applies to, by the suffix of their key (`metrics.scope.<kind>`). */
export type ScopeKind = 'jm' | 'jm-job' | 'tm' | 'tm-job' | 'task' | 'operator';

/** Flink's default format of every kind (Flink's `MetricOptions`). */
export const DEFAULT_SCOPE_FORMATS: Readonly<Record<ScopeKind, string>> = {
  jm: '<host>.jobmanager',
  'jm-job': '<host>.jobmanager.<job_name>',
  tm: '<host>.taskmanager.<tm_id>',
  'tm-job': '<host>.taskmanager.<tm_id>.<job_name>',
  task: '<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>',
  operator: '<host>.taskmanager.<tm_id>.<job_name>.<operator_name>.<subtask_index>',
};

/** The keys of each kind's format: the current one first, then Flink 1.x's older spelling. */
export const SCOPE_FORMAT_KEYS: Readonly<Record<ScopeKind, readonly string[]>> = {
  jm: ['metrics.scope.jm'],
  'jm-job': ['metrics.scope.jm-job', 'metrics.scope.jm.job'],
  tm: ['metrics.scope.tm'],
  'tm-job': ['metrics.scope.tm-job', 'metrics.scope.tm.job'],
  task: ['metrics.scope.task'],
  operator: ['metrics.scope.operator'],
};

export const SCOPE_DELIMITER_KEY = 'metrics.scope.delimiter';

/** The variables a group of each kind has (without angle brackets), so a format may use them. */
const VARIABLES: Readonly<Record<ScopeKind, readonly string[]>> = (() => {
  const jm = ['host'];
  const jmJob = [...jm, 'job_id', 'job_name'];
  const tm = ['host', 'tm_id'];
  const tmJob = [...tm, 'job_id', 'job_name'];
  const task = [...tmJob, 'task_id', 'task_name', 'subtask_index', 'task_attempt_num'];
  const operator = [...task, 'operator_id', 'operator_name'];
  return { jm, 'jm-job': jmJob, tm, 'tm-job': tmJob, task, operator };
})();

/** Kinds whose format may start with `*` (they have a parent scope). */
const HAS_PARENT: ReadonlySet<ScopeKind> = new Set(['jm-job', 'tm-job', 'task', 'operator']);

/** A parsed format: its components, and whether it continues its parent's scope (`*.`). */
export interface ScopeFormat {
  readonly kind: ScopeKind;
  /** The key it was read from, for messages. */
  readonly key: string;
  readonly relative: boolean;
  /** Literals, and variables as `<name>`. */
  readonly components: readonly string[];
}

const VARIABLE = /^<([A-Za-z0-9_]+)>$/;

/** Parses `raw` as the format of `kind` set under `key`; a ConfigError naming the key when it is malformed or uses an unknown variable. */
export function parseScopeFormat(kind: ScopeKind, raw: unknown, key: string = SCOPE_FORMAT_KEYS[kind][0]!): ScopeFormat {
  if (typeof raw !== 'string' || raw.trim() === '') throw new ConfigError(`${key} must be a scope format such as "${DEFAULT_SCOPE_FORMATS[kind]}", got ${JSON.stringify(raw)}`);
  const parts = raw.trim().split('.');
  const relative = parts[0] === '*';
  if (relative) {
    if (!HAS_PARENT.has(kind)) throw new ConfigError(`${key}: "${raw}" starts with *, but this group has no parent scope to continue`);
    parts.shift();
  }
  const known = VARIABLES[kind];
  for (const [i, c] of parts.entries()) {
    const where = `${key}: "${raw}"`;
    if (c === '') throw new ConfigError(`${where} has an empty component (at position ${i + 1 + (relative ? 1 : 0)}); components are separated by single dots`);
    if (c === '*') throw new ConfigError(`${where}: * may only be the first component`);
    const v = VARIABLE.exec(c);
    if (v !== null) {
      if (!known.includes(v[1]!)) throw new ConfigError(`${where} uses the unknown variable <${v[1]}> (known here: ${known.map((k) => `<${k}>`).join(', ')})`);
    } else if (/[<>]/.test(c)) {
      throw new ConfigError(`${where}: component "${c}" is neither a literal nor a whole variable like <host>`);
    }
  }
  if (parts.length === 0 && !relative) throw new ConfigError(`${key}: "${raw}" has no component`);
  return { kind, key, relative, components: parts };
}

/** The scope `format` gives a group with these `variables` (keys in angle brackets) under `parent`'s scope. */
export function applyScopeFormat(format: ScopeFormat, variables: Readonly<Record<string, string>>, parent: readonly string[] = []): string[] {
  const out = format.relative ? [...parent] : [];
  for (const c of format.components) out.push(VARIABLE.test(c) ? (variables[c] ?? '') : c);
  return out;
}

/** Parses the delimiter: exactly one character. */
export function parseScopeDelimiter(raw: unknown, key: string = SCOPE_DELIMITER_KEY): string {
  if (typeof raw !== 'string' || [...raw].length !== 1) throw new ConfigError(`${key} must be one character (default "."), got ${JSON.stringify(raw)}`);
  return raw;
}

/** Every kind's format and the delimiter. */
export interface ScopeFormats {
  readonly formats: Readonly<Record<ScopeKind, ScopeFormat>>;
  readonly delimiter: string;
}

const KINDS = Object.keys(DEFAULT_SCOPE_FORMATS) as ScopeKind[];

/**
 * The formats `get` gives (undefined: Flink's default); of a kind's two keys the current one
 * wins. A ConfigError naming the key when a format or the delimiter is bad.
 */
export function scopeFormats(get: (key: string) => unknown): ScopeFormats {
  const formats = {} as Record<ScopeKind, ScopeFormat>;
  for (const kind of KINDS) {
    const key = SCOPE_FORMAT_KEYS[kind].find((k) => get(k) !== undefined);
    formats[kind] = key === undefined ? parseScopeFormat(kind, DEFAULT_SCOPE_FORMATS[kind]) : parseScopeFormat(kind, get(key), key);
  }
  const d = get(SCOPE_DELIMITER_KEY);
  return { formats, delimiter: d === undefined ? '.' : parseScopeDelimiter(d) };
}

/** Flink's defaults. */
export const DEFAULT_SCOPES: ScopeFormats = scopeFormats(() => undefined);
