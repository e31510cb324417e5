/**
 * A job as a client submits it to the dispatcher, and the checks its fields get: the submission
 * may come straight from JSON, so every field is checked and the first bad one is named.
 */
import * as v from 'valibot';
import { shown } from '../core/errors.ts';
import { isAbsoluteLocation } from '../core/location.ts';
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

const isPlainObject = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);
const SUBMISSION_FIELDS = ['jobModule', 'programArgs', 'parallelism', 'savepointPath', 'allowNonRestoredState', 'config'];

const FILE_NAME_MESSAGE = (issue: v.BaseIssue<unknown>) =>
  `"jobModule.fileName" must be a bare file name ending in .mjs, .js, .ts or .mts, got ${shown(issue.input)}`;
const PARALLELISM_MESSAGE = (issue: v.BaseIssue<unknown>) => `"parallelism" must be an integer between 1 and 32768, got ${shown(issue.input)}`;
const JOB_MODULE_MESSAGE = '"jobModule" must be an object {fileName, source}';
const PROGRAM_ARGS_MESSAGE = '"programArgs" must be an array of strings';
const SAVEPOINT_PATH_MESSAGE = '"savepointPath" must be a non-empty string';
const CONFIG_MESSAGE = '"config" must be an object of key: string value';

/**
 * The shape of a submission; every message names the field. Configuration values are checked
 * afterwards against the configuration's own options (validateConfig).
 */
const submissionSchema = v.pipe(
  // valibot takes an array for an object; a submission is not one.
  v.custom<Record<string, unknown>>(isPlainObject, 'a job submission must be an object'),
  v.strictObject(
    {
      jobModule: v.pipe(
        v.custom<Record<string, unknown>>(isPlainObject, JOB_MODULE_MESSAGE),
        v.looseObject(
          {
            fileName: v.pipe(v.string(FILE_NAME_MESSAGE), v.regex(FILE_NAME, FILE_NAME_MESSAGE)),
            source: v.string((issue) => `"jobModule.source" must be a string, got ${typeof issue.input}`),
          },
          JOB_MODULE_MESSAGE,
        ),
      ),
      programArgs: v.optional(v.array(v.string(PROGRAM_ARGS_MESSAGE), PROGRAM_ARGS_MESSAGE)),
      parallelism: v.optional(
        v.pipe(v.number(PARALLELISM_MESSAGE), v.integer(PARALLELISM_MESSAGE), v.minValue(1, PARALLELISM_MESSAGE), v.maxValue(32768, PARALLELISM_MESSAGE)),
      ),
      savepointPath: v.optional(
        v.pipe(
          v.string(SAVEPOINT_PATH_MESSAGE),
          v.nonEmpty(SAVEPOINT_PATH_MESSAGE),
          // The client's working directory means nothing on the cluster's machine.
          v.check(
            isAbsoluteLocation,
            (issue) => `"savepointPath" must be an absolute path or a file:// URI, got ${shown(issue.input)}`,
          ),
        ),
      ),
      allowNonRestoredState: v.optional(v.boolean((issue) => `"allowNonRestoredState" must be true or false, got ${shown(issue.input)}`)),
      config: v.optional(v.pipe(v.custom<Record<string, unknown>>(isPlainObject, CONFIG_MESSAGE), v.record(v.string(), v.unknown(), CONFIG_MESSAGE))),
    },
    // An unknown key's issue expects 'never'; the only other issue here is the missing jobModule.
    (issue) => (issue.expected === 'never' ? `unknown field "${String(issue.input)}" (known: ${SUBMISSION_FIELDS.join(', ')})` : JOB_MODULE_MESSAGE),
  ),
);

/**
 * Checks a submission's fields (it may come from JSON) and throws a SubmissionError naming the
 * first bad field.
 */
export function validateSubmission(s: unknown): asserts s is JobSubmission {
  const result = v.safeParse(submissionSchema, s, { abortEarly: true });
  if (!result.success) throw new SubmissionError(result.issues[0].message);
  const config = result.output['config'];
  if (config !== undefined) validateConfig(config, '"config"');
}

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
