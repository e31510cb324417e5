// How a job module prebuilt to plain JavaScript (cli/job-prebuild.ts) is told apart: its URL
// carries this mark, and a slot worker given such a module registers no loader hooks
// (worker-bootstrap.mjs). JavaScript, so that the worker's bootstrap can import it before any
// TypeScript loader exists.

/** The query parameter that marks a prebuilt job module's URL. */
export const PREBUILT_MARK = 'weir-prebuilt';

/** Whether the job module URL `jobModule` names a prebuilt job. */
export function isPrebuiltJob(jobModule) {
  return new URL(jobModule).searchParams.has(PREBUILT_MARK);
}
