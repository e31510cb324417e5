/**
 * The engine's logs, on pino: one JSON object per line with `level` (pino's numbers: 30 info,
 * 40 warn, 50 error), `time` (ISO 8601), `name` (the process role: jobmanager, taskmanager) and
 * `msg`, plus the bindings of child loggers: `job` for everything about one job, `task` (and
 * `subtask`) for one task of it. Logs are for operators; what a job prints (print(), console
 * output of user functions) is the job's output and never goes through a logger.
 *
 * Writes are synchronous, so nothing logged is lost when a process exits right after.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  /** The role of the process, logged as `name`. */
  readonly name: string;
  /** File descriptor or stream to write to; stderr (fd 2) by default. */
  readonly destination?: number | DestinationStream;
  /** pino's level names; `info` by default, WEIR_LOG_LEVEL when set. */
  readonly level?: string;
}

export function createLogger(o: LoggerOptions): Logger {
  const destination = typeof o.destination === 'object' ? o.destination : pino.destination({ fd: o.destination ?? 2, sync: true });
  return pino({ name: o.name, level: o.level ?? process.env['WEIR_LOG_LEVEL'] ?? 'info', timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/** A logger that drops everything: the default where a caller passes none. */
export const silentLogger: Logger = pino({ level: 'silent' }, { write: () => {} });

/** The logger for everything about one job. */
export function jobLogger(parent: Logger, jobId: string): Logger {
  return parent.child({ job: jobId });
}
