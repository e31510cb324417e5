/**
 * valibot schemas of what clients send besides a job submission: request bodies, query
 * parameters and path parameters. Every message names the field (and the route for a body) and
 * shows the value received. An absent body is `{}`; a field that is null counts as absent.
 * (A job submission, POST /jobs, is checked by the dispatcher, which takes submissions from
 * other callers too: cluster/job-submission.ts.)
 */
import * as v from 'valibot';
import { shown } from '../core/errors.ts';
import { isAbsoluteLocation } from '../core/location.ts';


/** A body object of `route` with only the given fields (no body at all is `{}`: request-input.ts). */
function body<E extends v.ObjectEntries>(route: string, entries: E) {
  const known = Object.keys(entries);
  const notAnObject = `the body of ${route} must be a JSON object`;
  return v.pipe(
    // valibot takes an array for an object; a body is not one.
    v.custom<Record<string, unknown>>((input) => typeof input === 'object' && input !== null && !Array.isArray(input), notAnObject),
    v.strictObject(entries, (issue) => (issue.expected === 'never' ? `unknown field "${String(issue.input)}" in the body of ${route} (known: ${known.join(', ')})` : notAnObject)),
  );
}

const field = (route: string, key: string) => `"${key}" in the body of ${route}`;

/** A directory on the cluster's machine: absolute, or a URI, since the client's working directory means nothing here. */
function directory(route: string, key: string) {
  const nonEmpty = (issue: v.BaseIssue<unknown>) => `${field(route, key)} must be a non-empty string, got ${shown(issue.input)}`;
  return v.nullish(
    v.pipe(
      v.string(nonEmpty),
      v.minLength(1, nonEmpty),
      v.check(
        isAbsoluteLocation,
        (issue) => `${field(route, key)} must be an absolute path or a URI, got ${shown(issue.input)}`,
      ),
    ),
  );
}

function flag(route: string, key: string) {
  return v.nullish(v.boolean((issue) => `${field(route, key)} must be true or false, got ${shown(issue.input)}`));
}

function oneOf<const T extends readonly [string, ...string[]]>(route: string, key: string, values: T) {
  return v.nullish(v.picklist(values, (issue) => `${field(route, key)} must be one of ${values.join(', ')}, got ${shown(issue.input)}`));
}

const SAVEPOINTS = 'POST /jobs/:jobid/savepoints';
/** Flink's SavepointTriggerRequestBody. */
export const savepointTriggerBody = body(SAVEPOINTS, {
  'target-directory': directory(SAVEPOINTS, 'target-directory'),
  'cancel-job': flag(SAVEPOINTS, 'cancel-job'),
  formatType: oneOf(SAVEPOINTS, 'formatType', ['CANONICAL', 'NATIVE']),
});

const STOP = 'POST /jobs/:jobid/stop';
/** Flink's StopWithSavepointRequestBody. */
export const stopBody = body(STOP, {
  targetDirectory: directory(STOP, 'targetDirectory'),
  drain: flag(STOP, 'drain'),
  formatType: oneOf(STOP, 'formatType', ['CANONICAL', 'NATIVE']),
});

const CHECKPOINTS = 'POST /jobs/:jobid/checkpoints';
/** Flink's CheckpointTriggerRequestBody. */
export const checkpointTriggerBody = body(CHECKPOINTS, {
  checkpointType: oneOf(CHECKPOINTS, 'checkpointType', ['CONFIGURED', 'FULL', 'INCREMENTAL']),
});

/** PATCH /jobs/:jobid's query: only Flink's `mode=cancel` (the default). */
export const cancelQuery = v.object({
  mode: v.optional(v.literal('cancel', (issue) => `query parameter "mode" must be "cancel", got ${shown(issue.input)}`), 'cancel'),
});

/** A checkpoint id in a path: a non-negative integer. */
export const checkpointIdParam = v.pipe(
  v.string(),
  v.regex(/^\d+$/, (issue) => `checkpoint id must be a non-negative integer, got ${shown(issue.input)}`),
  v.transform(Number),
);
