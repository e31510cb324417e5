/**
 * The REST API of the server that serves the page (same origin; Flink's routes, docs/rest.md).
 * Routes that a server may not have yet (per-vertex watermarks, metrics) are read with
 * `optional()`, which remembers a 404 and stops asking.
 */

export type * from './api-types.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(res.status, `${what}: not JSON (status ${res.status})`);
  }
  if (!res.ok) {
    const errors = (body as { errors?: unknown }).errors;
    throw new ApiError(res.status, Array.isArray(errors) ? errors.join('; ') : `${what}: status ${res.status}`);
  }
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return answer<T>(await fetch(path, { headers: { accept: 'application/json' } }), `GET ${path}`);
}

export async function send<T>(method: 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  return answer<T>(await fetch(path, init), `${method} ${path}`);
}

/** Kinds of optional routes the server answered 404/405 for: not asked again. */
const absent = new Set<string>();

/** GET of a route the server may not have; undefined when it has not (or the resource is missing). */
export async function optional<T>(kind: string, path: string): Promise<T | undefined> {
  if (absent.has(kind)) return undefined;
  try {
    return await get<T>(path);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
      if (/^Not found: /.test(e.message)) absent.add(kind);
      return undefined;
    }
    throw e;
  }
}

export const jobPath = (jid: string): string => `/jobs/${encodeURIComponent(jid)}`;
