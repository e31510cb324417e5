/**
 * Errors cross thread boundaries as plain data and are rebuilt on the other side with their
 * name, message, stack and cause chain, so the user sees their own error and where it came from.
 */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly operatorName?: string | undefined;
  readonly cause?: SerializedError | undefined;
}

export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), stack: undefined };
  const cause = depth < 8 && e.cause !== undefined ? serializeError(e.cause, depth + 1) : undefined;
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    operatorName: (e as { operatorName?: string }).operatorName,
    cause,
  };
}

export function deserializeError(s: SerializedError): Error {
  const cause = s.cause ? deserializeError(s.cause) : undefined;
  const e = cause !== undefined ? new Error(s.message, { cause }) : new Error(s.message);
  e.name = s.name;
  if (s.stack !== undefined) e.stack = s.stack;
  if (s.operatorName !== undefined) (e as { operatorName?: string }).operatorName = s.operatorName;
  return e;
}

/** The innermost cause: the error user code threw. */
export function rootCause(e: Error): Error {
  let c: Error = e;
  while (c.cause instanceof Error) c = c.cause;
  return c;
}
