/**
 * A job as a client submits it to the dispatcher, and the checks its fields get: the submission
 * may come straight from JSON, so every field is checked and the first bad one is named.
 */
import { isAbsolute } from 'node:path';
import { Configuration, isConfigKey } from '../api/configuration.ts';
import { SubmissionError } from './dispatcher-errors.ts';

/** A job as a client submits it: the job module's source (self-contained but for weir) and how to run it. */
export interface JobSubmission {
  /**
   * The module, an ES module importing only 'weir', 'weir/testing' and node builtins (the CLI
   * bundles everything else into it). `fileName` is a bare file name ending in .mjs, .js, .ts or
   * .mts; the extension decides how the module is loaded.
   */
  readonly jobModule: { readonly fileName: string; readonly source: string };
  /** What the job sees as process.argv.slice(2), in every worker too. */
  readonly programArgs?: readonly string[];
  /** Imposed as parallelism.default (code that sets a parallelism wins), like `weir run -p`. */
  readonly parallelism?: number;
  /** Savepoint or retained checkpoint to start from: an absolute path or a file:// URI. */
  readonly savepointPath?: string;
  /** Skip snapshot state that maps to no operator of the job (`weir run -n`). */
  readonly allowNonRestoredState?: boolean;
  /** Configuration by Flink's keys (restart-strategy.* included), like `weir run -D`. */
  readonly config?: Readonly<Record<string, string>>;
}

const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*\.(mjs|js|ts|mts)$/;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Checks a submission's fields (it may come from JSON) and throws a SubmissionError naming the
 * first bad field.
 */
export function validateSubmission(s: unknown): asserts s is JobSubmission {
  const fail = (text: string): never => {
    throw new SubmissionError(text);
  };
  if (typeof s !== 'object' || s === null || Array.isArray(s)) fail('a job submission must be an object');
  const o = s as Record<string, unknown>;
  const known = new Set(['jobModule', 'programArgs', 'parallelism', 'savepointPath', 'allowNonRestoredState', 'config']);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(`unknown field "${k}" (known: ${[...known].join(', ')})`);
  const m = o['jobModule'];
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('"jobModule" must be an object {fileName, source}');
  const { fileName, source } = m as Record<string, unknown>;
  if (typeof fileName !== 'string' || !FILE_NAME.test(fileName)) {
    fail(`"jobModule.fileName" must be a bare file name ending in .mjs, .js, .ts or .mts, got ${JSON.stringify(fileName)}`);
  }
  if (typeof source !== 'string') fail(`"jobModule.source" must be a string, got ${typeof source}`);
  const args = o['programArgs'];
  if (args !== undefined && (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))) fail('"programArgs" must be an array of strings');
  const p = o['parallelism'];
  if (p !== undefined && (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 32768)) {
    fail(`"parallelism" must be an integer between 1 and 32768, got ${JSON.stringify(p)}`);
  }
  const sp = o['savepointPath'];
  if (sp !== undefined) {
    if (typeof sp !== 'string' || sp === '') fail('"savepointPath" must be a non-empty string');
    const uri = /^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(sp as string);
    if (!uri && !isAbsolute(sp as string)) fail(`"savepointPath" must be an absolute path or a file:// URI, got ${JSON.stringify(sp)}`);
  }
  const allow = o['allowNonRestoredState'];
  if (allow !== undefined && typeof allow !== 'boolean') fail(`"allowNonRestoredState" must be true or false, got ${JSON.stringify(allow)}`);
  const config = o['config'];
  if (config !== undefined) {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) fail('"config" must be an object of key: string value');
    validateConfig(config as Record<string, unknown>, '"config"');
  }
}

/** Keys must be configuration keys (or restart-strategy.*), values strings that the key accepts. */
export function validateConfig(config: Readonly<Record<string, unknown>>, where: string): void {
  const probe = new Configuration();
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string') throw new SubmissionError(`${where}: the value of "${k}" must be a string, got ${JSON.stringify(v)}`);
    if (k.startsWith('restart-strategy.')) continue; // validated as a group when the environment is created
    if (!isConfigKey(k)) throw new SubmissionError(`${where}: unknown configuration key "${k}"`);
    try {
      probe.setString(k, v);
    } catch (e) {
      throw new SubmissionError(`${where}: ${message(e)}`);
    }
  }
}

/** The launch overrides a submission imposes on top of the cluster's configuration. */
export function submissionOverrides(clusterConfig: Readonly<Record<string, string>>, s: JobSubmission): Record<string, unknown> {
  const overrides: Record<string, unknown> = { ...clusterConfig, ...s.config };
  if (s.parallelism !== undefined) overrides['parallelism.default'] = s.parallelism;
  if (s.savepointPath !== undefined) overrides['execution.savepoint.path'] = s.savepointPath;
  if (s.allowNonRestoredState !== undefined) overrides['execution.savepoint.ignore-unclaimed-state'] = s.allowNonRestoredState;
  if (isConfigKey('weir.execution.mode')) overrides['weir.execution.mode'] = 'threads';
  return overrides;
}
