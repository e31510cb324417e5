/** The verbs that act on jobs of a running cluster: list, cancel, savepoint, stop, checkpoint. */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RestClient } from '../rest/rest-client.ts';
import type { Command } from 'commander';
import { UsageError, withProgress, type ExitCode } from './cli-support.ts';
import { requireCluster } from './cluster-address.ts';
import { switchFlag, valueFlag, verbCommand } from './verb-command.ts';

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

/** A job verb: `-m`/`--jobmanager` names the cluster; `run` gets the operands and that address. */
function jobVerb(name: string, usage: string, run: (operands: string[], address: string | undefined) => Promise<ExitCode>): Command {
  let address: string | undefined;
  const cmd = verbCommand(name, usage, (operands) => run(operands, address));
  return valueFlag(cmd, ['-m', '--jobmanager'], 'a value', (v) => (address = v));
}

async function client(address: string | undefined): Promise<RestClient> {
  const cluster = await requireCluster(address);
  // Loaded by the verbs that talk to a cluster only: `weir run` and `--help` do without it.
  const { RestClient } = await import('../rest/rest-client.ts');
  return new RestClient(cluster);
}

export function listVerb(): Command {
  let runningOnly = false;
  const cmd = jobVerb('list', LIST_USAGE, async (operands, address) => {
    if (operands.length > 0) throw new UsageError(`unexpected argument ${operands[0]}`, LIST_USAGE);
    const jobs = (await (await client(address)).jobsOverview()).jobs;
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
  });
  return switchFlag(cmd, ['-r', '--running'], () => (runningOnly = true));
}

export function cancelVerb(): Command {
  return jobVerb('cancel', CANCEL_USAGE, async (operands, address) => {
    const jobId = jobIdArg(operands[0], CANCEL_USAGE);
    const c = await client(address);
    console.log(`Cancelling job ${jobId}.`);
    await c.cancelJob(jobId);
    const end = await withProgress('waiting for the job to stop', c.awaitJobEnd(jobId));
    console.log(`Cancelled job ${jobId} (${end.state}).`);
    return 0;
  });
}

export function savepointVerb(): Command {
  let dispose: string | undefined;
  const cmd = jobVerb('savepoint', SAVEPOINT_USAGE, async (operands, address) => {
    if (dispose !== undefined) {
      if (operands.length > 0) throw new UsageError(`-d takes only the savepoint path, got also ${operands.join(' ')}`, SAVEPOINT_USAGE);
      const dir = await disposeSavepoint(dispose);
      console.log(`Savepoint '${dir}' disposed.`);
      return 0;
    }
    const jobId = jobIdArg(operands[0], SAVEPOINT_USAGE);
    if (operands.length > 2) throw new UsageError(`unexpected argument ${operands[2]}`, SAVEPOINT_USAGE);
    const target = operands[1] === undefined ? undefined : resolve(operands[1]);
    const c = await client(address);
    console.log(`Triggering savepoint for job ${jobId}.`);
    const triggerId = await c.triggerSavepoint(jobId, { ...(target !== undefined ? { targetDirectory: target } : {}), cancelJob: false });
    const location = await withProgress('waiting for the savepoint', c.awaitSavepoint(jobId, triggerId));
    console.log(`Savepoint completed. Path: ${location}`);
    console.log('You can resume your program from this savepoint with the run command: weir run -s <path> <job>');
    return 0;
  });
  return valueFlag(cmd, ['-d', '--dispose'], 'a value', (v) => (dispose = v));
}

/** Deletes a savepoint directory after checking that it is one; returns the directory. */
async function disposeSavepoint(path: string): Promise<string> {
  const { checkpointReaderFor } = await import('../checkpoint/checkpoint-storage-registry.ts');
  const { metadata, dir } = await checkpointReaderFor(path).loadCheckpoint(path);
  if (metadata.kind !== 'savepoint') throw new Error(`cannot dispose of ${dir}: it is a checkpoint, which weir manages itself, not a savepoint`);
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

export function stopVerb(): Command {
  let target: string | undefined;
  let drain = false;
  const cmd = jobVerb('stop', STOP_JOB_USAGE, async (operands, address) => {
    const jobId = jobIdArg(operands[0], STOP_JOB_USAGE);
    if (operands.length > 1) throw new UsageError(`unexpected argument ${operands[1]}`, STOP_JOB_USAGE);
    const c = await client(address);
    console.log(`Suspending job ${jobId} with a savepoint${drain ? ', draining it first' : ''}.`);
    const triggerId = await c.stopJob(jobId, { ...(target !== undefined ? { targetDirectory: target } : {}), drain });
    const location = await withProgress('waiting for the savepoint', c.awaitSavepoint(jobId, triggerId));
    console.log(`Savepoint completed. Path: ${location}`);
    return 0;
  });
  valueFlag(cmd, ['-p', '--savepointPath'], 'a value', (v) => (target = resolve(v)));
  return switchFlag(cmd, ['-d', '--drain'], () => (drain = true));
}

export function checkpointVerb(): Command {
  let full = false;
  const cmd = jobVerb('checkpoint', CHECKPOINT_USAGE, async (operands, address) => {
    const jobId = jobIdArg(operands[0], CHECKPOINT_USAGE);
    if (operands.length > 1) throw new UsageError(`unexpected argument ${operands[1]}`, CHECKPOINT_USAGE);
    const c = await client(address);
    const triggerId = await c.triggerCheckpoint(jobId, { checkpointType: full ? 'FULL' : 'CONFIGURED' });
    const id = await withProgress('waiting for the checkpoint', c.awaitCheckpoint(jobId, triggerId));
    console.log(`Checkpoint(${full ? 'FULL' : 'CONFIGURED'}) ${id} for job ${jobId} completed.`);
    return 0;
  });
  return switchFlag(cmd, ['--full'], () => (full = true));
}
