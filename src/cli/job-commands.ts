/** The verbs that act on jobs of a running cluster: list, cancel, savepoint, stop, checkpoint. */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadCheckpoint } from '../checkpoint/filesystem-checkpoint-storage.ts';
import { RestClient } from '../rest/rest-client.ts';
import { Args, UsageError, withProgress, type ExitCode } from './cli-support.ts';
import { requireCluster } from './cluster-address.ts';

const ADDRESS_OPTION = `  -m, --jobmanager <host:port>
                   The cluster (default: the recorded one, else 127.0.0.1:8081)`;

export const LIST_USAGE = `Usage: weir list [options]

Lists the cluster's running and terminated jobs: start time, job id, name and status.

Options:
${ADDRESS_OPTION}
  -r, --running    Only running and restarting jobs
  -h, --help       Show this help`;

export const CANCEL_USAGE = `Usage: weir cancel [options] <jobId>

Cancels a job and waits until it stopped. Its retained checkpoints stay if the job keeps them on
cancellation (RETAIN_ON_CANCELLATION).

Options:
${ADDRESS_OPTION}
  -h, --help       Show this help`;

export const SAVEPOINT_USAGE = `Usage: weir savepoint [options] <jobId> [targetDirectory]
       weir savepoint -d <savepointPath>

Takes a savepoint of a running job and prints its path (the job keeps running). Without a
target directory the job's state.savepoints.dir is used. With -d, disposes of a savepoint:
its directory is deleted.

Options:
${ADDRESS_OPTION}
  -d, --dispose <path>
                   Delete the savepoint at <path> (a savepoint directory or its _metadata)
  -h, --help       Show this help`;

export const STOP_JOB_USAGE = `Usage: weir stop [options] <jobId>

Stops a job gracefully with a savepoint: sources stop after the savepoint barrier and the job
finishes without firing event-time timers. Prints the savepoint path.

Options:
${ADDRESS_OPTION}
  -p, --savepointPath <dir>
                   Where the savepoint goes (default: the job's state.savepoints.dir)
  -d, --drain      Emit the maximal watermark first, so event-time timers fire and windows
                   close before the savepoint (use when the job will not be resumed)
  -h, --help       Show this help`;

export const CHECKPOINT_USAGE = `Usage: weir checkpoint [options] <jobId>

Triggers a checkpoint of a running job now and prints its id once it completed. The job must
have checkpointing enabled.

Options:
${ADDRESS_OPTION}
  --full           A full checkpoint (weir's checkpoints are always full)
  -h, --help       Show this help`;

const JOB_ID = /^[0-9a-f]{32}$/;

function jobIdArg(value: string | undefined, usage: string): string {
  if (value === undefined) throw new UsageError('a job id is needed', usage);
  if (!JOB_ID.test(value)) throw new UsageError(`${JSON.stringify(value)} is not a job id (32 lowercase hexadecimal characters)`, usage);
  return value;
}

function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Reads the options every job verb shares; returns the positional arguments, or 'help'. */
function parse(argv: readonly string[], usage: string, extra: (opt: string, a: Args) => boolean = () => false): { address: string | undefined; rest: string[] } | 'help' {
  const a = new Args(argv, usage);
  let address: string | undefined;
  for (let opt = a.nextOption(); opt !== undefined; opt = a.nextOption()) {
    if (opt === '-h' || opt === '--help') return 'help';
    if (opt === '-m' || opt === '--jobmanager') address = a.value(opt);
    else if (!extra(opt, a)) a.unknown(opt);
  }
  return { address, rest: a.rest() };
}

async function client(address: string | undefined): Promise<RestClient> {
  return new RestClient(await requireCluster(address));
}

export async function listCommand(argv: readonly string[]): Promise<ExitCode> {
  let runningOnly = false;
  const p = parse(argv, LIST_USAGE, (opt) => (opt === '-r' || opt === '--running' ? ((runningOnly = true), true) : false));
  if (p === 'help') return (console.log(LIST_USAGE), 0);
  if (p.rest.length > 0) throw new UsageError(`unexpected argument ${p.rest[0]}`, LIST_USAGE);
  const jobs = (await (await client(p.address)).jobsOverview()).jobs;
  const line = (j: (typeof jobs)[number]) => `${formatTime(j['start-time'])} : ${j.jid} : ${j.name} (${j.state})`;
  const terminal = new Set(['FINISHED', 'FAILED', 'CANCELED']);
  const running = jobs.filter((j) => !terminal.has(j.state)).sort((x, y) => x['start-time'] - y['start-time']);
  const ended = jobs.filter((j) => terminal.has(j.state)).sort((x, y) => x['start-time'] - y['start-time']);
  if (running.length === 0) console.log('No running jobs.');
  else console.log(['------------------ Running/Restarting Jobs -------------------', ...running.map(line), '--------------------------------------------------------------'].join('\n'));
  if (!runningOnly) {
    if (ended.length === 0) console.log('No terminated jobs.');
    else console.log(['---------------------- Terminated Jobs -----------------------', ...ended.map(line), '--------------------------------------------------------------'].join('\n'));
  }
  return 0;
}

export async function cancelCommand(argv: readonly string[]): Promise<ExitCode> {
  const p = parse(argv, CANCEL_USAGE);
  if (p === 'help') return (console.log(CANCEL_USAGE), 0);
  const jobId = jobIdArg(p.rest[0], CANCEL_USAGE);
  const c = await client(p.address);
  console.log(`Cancelling job ${jobId}.`);
  await c.cancelJob(jobId);
  const end = await withProgress('waiting for the job to stop', c.awaitJobEnd(jobId));
  console.log(`Cancelled job ${jobId} (${end.state}).`);
  return 0;
}

export async function savepointCommand(argv: readonly string[]): Promise<ExitCode> {
  let dispose: string | undefined;
  const p = parse(argv, SAVEPOINT_USAGE, (opt, a) => (opt === '-d' || opt === '--dispose' ? ((dispose = a.value(opt)), true) : false));
  if (p === 'help') return (console.log(SAVEPOINT_USAGE), 0);
  if (dispose !== undefined) {
    if (p.rest.length > 0) throw new UsageError(`-d takes only the savepoint path, got also ${p.rest.join(' ')}`, SAVEPOINT_USAGE);
    const dir = await disposeSavepoint(dispose);
    console.log(`Savepoint '${dir}' disposed.`);
    return 0;
  }
  const jobId = jobIdArg(p.rest[0], SAVEPOINT_USAGE);
  if (p.rest.length > 2) throw new UsageError(`unexpected argument ${p.rest[2]}`, SAVEPOINT_USAGE);
  const target = p.rest[1] === undefined ? undefined : resolve(p.rest[1]);
  const c = await client(p.address);
  console.log(`Triggering savepoint for job ${jobId}.`);
  const triggerId = await c.triggerSavepoint(jobId, { ...(target !== undefined ? { targetDirectory: target } : {}), cancelJob: false });
  const location = await withProgress('waiting for the savepoint', c.awaitSavepoint(jobId, triggerId));
  console.log(`Savepoint completed. Path: ${location}`);
  console.log('You can resume your program from this savepoint with the run command: weir run -s <path> <job>');
  return 0;
}

/** Deletes a savepoint directory after checking that it is one; returns the directory. */
async function disposeSavepoint(path: string): Promise<string> {
  const { metadata, dir } = await loadCheckpoint(path);
  if (metadata.kind !== 'savepoint') throw new Error(`cannot dispose of ${dir}: it is a checkpoint, which weir manages itself, not a savepoint`);
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

export async function stopCommand(argv: readonly string[]): Promise<ExitCode> {
  let target: string | undefined;
  let drain = false;
  const p = parse(argv, STOP_JOB_USAGE, (opt, a) => {
    if (opt === '-p' || opt === '--savepointPath') target = resolve(a.value(opt));
    else if (opt === '-d' || opt === '--drain') drain = true;
    else return false;
    return true;
  });
  if (p === 'help') return (console.log(STOP_JOB_USAGE), 0);
  const jobId = jobIdArg(p.rest[0], STOP_JOB_USAGE);
  if (p.rest.length > 1) throw new UsageError(`unexpected argument ${p.rest[1]}`, STOP_JOB_USAGE);
  const c = await client(p.address);
  console.log(`Suspending job ${jobId} with a savepoint${drain ? ', draining it first' : ''}.`);
  const triggerId = await c.stopJob(jobId, { ...(target !== undefined ? { targetDirectory: target } : {}), drain });
  const location = await withProgress('waiting for the savepoint', c.awaitSavepoint(jobId, triggerId));
  console.log(`Savepoint completed. Path: ${location}`);
  return 0;
}

export async function checkpointCommand(argv: readonly string[]): Promise<ExitCode> {
  let full = false;
  const p = parse(argv, CHECKPOINT_USAGE, (opt) => (opt === '--full' ? ((full = true), true) : false));
  if (p === 'help') return (console.log(CHECKPOINT_USAGE), 0);
  const jobId = jobIdArg(p.rest[0], CHECKPOINT_USAGE);
  if (p.rest.length > 1) throw new UsageError(`unexpected argument ${p.rest[1]}`, CHECKPOINT_USAGE);
  const c = await client(p.address);
  const triggerId = await c.triggerCheckpoint(jobId, { checkpointType: full ? 'FULL' : 'CONFIGURED' });
  const id = await withProgress('waiting for the checkpoint', c.awaitCheckpoint(jobId, triggerId));
  console.log(`Checkpoint(${full ? 'FULL' : 'CONFIGURED'}) ${id} for job ${jobId} completed.`);
  return 0;
}
