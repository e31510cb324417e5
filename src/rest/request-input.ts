/**
 * What a route reads from a request besides its path: the JSON body (at most 64 MiB; a body that
 * is not JSON is a 400 naming the position as line and column) and its validation against a
 * valibot schema, whose first issue becomes the 400's message. Schemas are in rest-schemas.ts.
 */
import * as v from 'valibot';
import { HttpError } from './rest-errors.ts';

/** The largest request body taken (a bundled job module travels in POST /jobs). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The body as JSON; undefined when empty. */
export async function readJsonBody(request: Request): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        // The rest of the upload is not read: the connection closes after the answer.
        void reader.cancel().catch(() => {});
        throw new HttpError(413, `request body exceeds ${MAX_BODY_BYTES / (1024 * 1024)} MiB`, { connection: 'close' });
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    const what = e instanceof Error ? e.message : String(e);
    // Where: V8 names a position for most errors, none for a body that ends too early.
    const at = /position (\d+)/.exec(what);
    const position = at ? Number(at[1]) : /end of JSON/i.test(what) ? text.length : undefined;
    let where = '';
    if (position !== undefined) {
      const before = text.slice(0, position).split('\n');
      where = ` (line ${before.length}, column ${before[before.length - 1]!.length + 1})`;
    }
    throw new HttpError(400, `request body is not valid JSON: ${what}${where}`);
  }
}

/** The JSON body, `{}` when there is none, validated against `schema`. */
export async function readBody<S extends v.GenericSchema>(request: Request, schema: S): Promise<v.InferOutput<S>> {
  return validated(schema, (await readJsonBody(request)) ?? {});
}

/** `input` as the schema's output; a 400 with the first issue's message when it does not fit. */
export function validated<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, input, { abortEarly: true });
  if (!r.success) throw new HttpError(400, r.issues[0].message);
  return r.output;
}
