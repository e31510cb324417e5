/**
 * A plain `weir run` read without commander: main.ts runs it straight away, so that the command
 * that runs a job loads neither commander nor the other verbs (their modules, the REST client,
 * the cluster commands) before the job starts.
 *
 * Only command lines whose meaning is plain are read here: before the job file, any of
 * `-p`/`--parallelism`, `-D`, `-s`/`--fromSavepoint` with a valid value (as a separate word, or
 * attached: `-p2`, `-Dkey=value`, `--parallelism=2`), `--inline`, `-n` and
 * `--allowNonRestoredState`; then the job file; every word after it is the job's own, as with the
 * verb (run-command.ts). Anything else (help, a cluster, the web UI, `--`, an unknown option, a
 * value the verb would refuse, no job file) answers undefined, and the verb parses the command
 * line as always, with its messages and exit codes: this reading changes how fast a run starts,
 * never what a command line means.
 *
 * The words are split by Node's own parser (util.parseArgs): once to find the job file (the first
 * word that is neither an option nor an option's value), then strictly over the words before it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isConfigKey } from '../api/configuration.ts';
import { savepointPath, type RunOptions } from './run-job.ts';

const OPTIONS = {
  parallelism: { type: 'string', short: 'p', multiple: true },
  D: { type: 'string', short: 'D', multiple: true },
  fromSavepoint: { type: 'string', short: 's', multiple: true },
  inline: { type: 'boolean' },
  allowNonRestoredState: { type: 'boolean', short: 'n' },
} as const satisfies ParseArgsConfig['options'];

/**
 * The options of `weir run` for the words after `run`, when they plainly describe a run (see
 * above); undefined where the verb's own parsing must decide. `typeScriptLoaded` as in main.ts.
 */
export function plainRunOptions(args: readonly string[], typeScriptLoaded: boolean): RunOptions | undefined {
  const words = [...args];
  // The job file: the first positional word, unless `--` came before it (then the verb decides).
  let at = -1;
  try {
    for (const token of parseArgs({ args: words, options: OPTIONS, strict: false, allowPositionals: true, tokens: true }).tokens) {
      if (token.kind === 'option-terminator') return undefined;
      if (token.kind === 'positional') {
        at = token.index;
        break;
      }
    }
  } catch {
    return undefined;
  }
  const job = words[at];
  if (job === undefined || job.startsWith('-')) return undefined;
  let tokens: ReturnType<typeof parseArgs>['tokens'];
  try {
    ({ tokens } = parseArgs({ args: words.slice(0, at), options: OPTIONS, strict: true, allowPositionals: false, tokens: true }));
  } catch {
    return undefined;
  }
  const o: RunOptions = { typeScriptLoaded, parallelism: undefined, inline: false, detached: false, jobManager: undefined, webUi: false, webPort: 8081, config: {}, job, args: words.slice(at + 1) };
  // What the verb refuses (valueFlag in verb-command.ts: an empty value or one that starts with a dash), it reports itself.
  const plainValue = (v: string): boolean => v !== '' && !v.startsWith('-');
  // Options apply in the order given, as the verb applies them: the last -p wins, -D and -s fill the configuration.
  for (const token of tokens ?? []) {
    if (token.kind !== 'option') continue;
    const value = token.value ?? '';
    switch (token.name) {
      case 'inline':
        o.inline = true;
        break;
      case 'allowNonRestoredState':
        o.config['execution.savepoint.ignore-unclaimed-state'] = 'true';
        break;
      case 'parallelism': {
        const n = Number(value);
        if (!plainValue(value) || !Number.isInteger(n) || n < 1) return undefined;
        o.parallelism = n;
        break;
      }
      case 'D': {
        const eq = value.indexOf('=');
        if (!plainValue(value) || eq <= 0 || !isConfigKey(value.slice(0, eq))) return undefined;
        o.config[value.slice(0, eq)] = value.slice(eq + 1);
        break;
      }
      case 'fromSavepoint':
        if (!plainValue(value)) return undefined;
        o.config['execution.savepoint.path'] = savepointPath(value);
        break;
    }
  }
  return o;
}
