/**
 * What engine code needs of a logger: levels, a message, and child loggers that add fields (the
 * job, the task). The processes' pino loggers (core/logger.ts) have this shape; engine modules
 * depend on this interface only, so pino is loaded where a process sets up its logs and never in
 * the worker threads that run tasks.
 */
export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(bindings: Record<string, unknown>): Log;
}

/**
 * A log for a person at a terminal: warnings and errors as plain `weir: <msg>` lines on stderr
 * (what an embedded `weir run` shows); information is dropped.
 */
export const consoleLog: Log = {
  info: () => {},
  warn: (msg) => process.stderr.write(`weir: ${msg}\n`),
  error: (msg) => process.stderr.write(`weir: ${msg}\n`),
  child: () => consoleLog,
};
