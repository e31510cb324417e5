/** The job statuses and their transitions (api/job-status.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  IllegalJobStatusTransitionError,
  isTerminalJobStatus,
  JOB_STATUS_TRANSITIONS,
  JOB_STATUSES,
  nextJobStatus,
  TERMINAL_JOB_STATUSES,
} from '../../src/api/job-status.ts';

test('terminal statuses have no way out, and every other status can end', () => {
  for (const s of JOB_STATUSES) {
    assert.equal(isTerminalJobStatus(s), TERMINAL_JOB_STATUSES.has(s));
    if (isTerminalJobStatus(s)) assert.deepEqual(JOB_STATUS_TRANSITIONS[s], [], s);
    else assert.ok(JOB_STATUS_TRANSITIONS[s].some(isTerminalJobStatus), `${s} can reach a terminal status`);
  }
});

test('the runtime paths of a job are legal', () => {
  for (const path of [
    ['INITIALIZING', 'RUNNING', 'FINISHED'],
    ['INITIALIZING', 'RUNNING', 'RESTARTING', 'RESTARTING', 'RUNNING', 'CANCELED'],
    ['INITIALIZING', 'RESTARTING', 'FAILED'],
    ['INITIALIZING', 'CANCELED'],
    ['RUNNING', 'FAILING', 'FAILED'],
    ['RUNNING', 'CANCELLING', 'CANCELED'],
  ] as const) {
    let s: (typeof JOB_STATUSES)[number] = path[0];
    for (const next of path.slice(1)) s = nextJobStatus(s, next);
    assert.equal(s, path[path.length - 1]);
  }
});

test('an illegal transition is refused, naming where the job may go', () => {
  assert.throws(
    () => nextJobStatus('FINISHED', 'RUNNING'),
    (e: unknown) => e instanceof IllegalJobStatusTransitionError && e.message === 'a job cannot go from FINISHED to RUNNING (from FINISHED only to nothing: it is terminal)',
  );
  assert.throws(() => nextJobStatus('INITIALIZING', 'FINISHED'), /from INITIALIZING only to CREATED, RUNNING, RESTARTING/);
  assert.throws(() => nextJobStatus('CANCELLING', 'RUNNING'), IllegalJobStatusTransitionError);
});
