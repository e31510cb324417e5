/**
 * A plain `weir run` read without commander: main.ts runs it straight away, so that the command
 * that runs a job loads neither commander nor the other verbs (their modules, the REST client,
 * the cluster commands) before the job starts.
 *
 * Only command lines whose meaning is plain are read here: before the job file, any of
 * `-p`/`--parallelism`, `-D`, `-s`/`--fromSavepoint` with a valid value (as a separate word, or
 * attached as commander takes it: `-p2`, `-Dkey=value`, `--parallelism=2`), `--inline`, `-n` and
 * `--allowNonRestoredState`; then the job file; every word after it is the job's own, as with the
 * verb (run-command.ts). Anything else (help, a cluster, the web UI, `--`, an unknown option, a
 * value the verb would refuse, no job file) answers undefined, and the verb parses the command
 * line as always, with its messages and exit codes: this reading changes how fast a run starts,
 * never what a command line means.
 */
import { isConfigKey } from '../api/configuration.ts';
import { savepointPath, type RunOptions } from './run-job.ts';

const VALUE_OPTIONS = new Set(['-p', '--parallelism', '-D', '-s', '--fromSavepoint']);

/**
 * The options of `weir run` for the words after `run`, when they plainly describe a run (see
 * above); undefined where the verb's own parsing must decide. `typeScriptLoaded` as in main.ts.
 */
export function plainRunOptions(args: readonly string[], typeScriptLoaded: boolean): RunOptions | undefined {
  const o: RunOptions = { typeScriptLoaded, parallelism: undefined, inline: false, detached: false, jobManager: undefined, webUi: false, webPort: 8081, config: {}, job: '', args: [] };
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (!word.startsWith('-')) {
      o.job = word;
      o.args = args.slice(i + 1);
      return o;
    }
    if (word === '--inline') {
      o.inline = true;
      continue;
    }
    if (word === '-n' || word === '--allowNonRestoredState') {
      o.config['execution.savepoint.ignore-unclaimed-state'] = 'true';
      continue;
    }
    let name = word;
    let value: string | undefined;
    const eq = word.indexOf('=');
    if (word.startsWith('--') && eq > 0) {
      name = word.slice(0, eq);
      value = word.slice(eq + 1);
    } else if (/^-[pDs]./.test(word)) {
      name = word.slice(0, 2);
      value = word.slice(2);
    }
    if (!VALUE_OPTIONS.has(name)) return undefined;
    value ??= args[++i];
    // What the verb refuses (valueFlag in verb-command.ts), it reports itself.
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    if (name === '-p' || name === '--parallelism') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) return undefined;
      o.parallelism = n;
    } else if (name === '-D') {
      const at = value.indexOf('=');
      if (at <= 0 || !isConfigKey(value.slice(0, at))) return undefined;
      o.config[value.slice(0, at)] = value.slice(at + 1);
    } else {
      o.config['execution.savepoint.path'] = savepointPath(value);
    }
  }
  return undefined;
}
