/**
 * The REST app without a network: route modules and what every route shares — Flink's `/v1`
 * prefix and loose slashes, literal segments before parameters, 405 with the allowed methods,
 * 404 and 400 in Flink's error shape, the body limit, and more modules mounted beside the API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Dispatcher } from '../../src/cluster/dispatcher.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { dashboardConfiguration } from '../../src/rest/dto/cluster-dto.ts';
import { createRestApp, json } from '../../src/rest/rest-app.ts';
import type { RestModule } from '../../src/rest/rest-module.ts';
import { DEFAULT_REST_MODULES } from '../../src/rest/rest-server.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-rest-app-'));
const dispatcher = new Dispatcher({ slots: 1, jobsDir: join(root, 'jobs') });
const about = dashboardConfiguration('0.0.0-test', 'unknown');

/** A module of the kind a web UI or a metrics endpoint would be (on paths the API leaves free). */
const metrics: RestModule = (routes) => {
  routes.get('/extra-metrics', (c) => c.text('weir_jobs 0\n', 200, { 'content-type': 'text/plain; version=0.0.4' }));
  routes.get('/jobs/:jobid/extra', (c) => json(c, 200, { job: c.req.param('jobid') }));
};

const app = createRestApp({ dispatcher, about, logger: silentLogger }, [...DEFAULT_REST_MODULES, metrics]);

// biome-ignore lint/suspicious/noExplicitAny: answers of every route are read through this one helper
async function call(method: string, path: string, body?: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await app.request(path, { method, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, body: /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text, headers: res.headers };
}

after(async () => {
  await dispatcher.shutdown();
  rmSync(root, { recursive: true, force: true });
});

test('the /v1 prefix, doubled and trailing slashes reach the same route', async () => {
  for (const path of ['/jobs', '/v1/jobs', '//jobs/', '/v1/jobs/']) {
    const r = await call('GET', path);
    assert.equal(r.status, 200, path);
    assert.deepEqual(r.body, { jobs: [] });
    assert.match(r.headers.get('content-type') ?? '', /^application\/json; charset=utf-8$/);
  }
});

test('a literal segment wins over a parameter, whatever the order of registration', async () => {
  assert.deepEqual((await call('GET', '/jobs/overview')).body, { jobs: [] });
  const r = await call('PATCH', '/jobs/overview');
  assert.equal(r.status, 405, 'PATCH exists on /jobs/:jobid, but /jobs/overview is the route that matches');
  assert.deepEqual(r.body, { errors: ['PATCH is not allowed on /jobs/overview (allowed: GET)'] });
  assert.equal(r.headers.get('allow'), 'GET');
});

test('unknown paths, malformed paths and bad parameters are Flink-shaped errors', async () => {
  const unknown = await call('GET', '/v1/nope');
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.body, { errors: ['Not found: /v1/nope'] });
  const malformed = await call('GET', '/jobs/%E0%A4%A');
  assert.equal(malformed.status, 400);
  assert.match(malformed.body.errors[0], /^malformed percent-encoding in the path /);
  const nobody = 'f'.repeat(32);
  assert.deepEqual((await call('GET', `/jobs/${nobody}/checkpoints/details/x`)).body, { errors: [`unknown job ${nobody}`] }, 'the job is looked up first');
});

test('bodies: validated field by field, and refused over 64 MiB', async () => {
  const nobody = 'f'.repeat(32);
  const bad = await call('POST', `/jobs/${nobody}/savepoints`, '{"formatType": "XML"}');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { errors: ['"formatType" in the body of POST /jobs/:jobid/savepoints must be one of CANONICAL, NATIVE, got "XML"'] });
  const array = await call('POST', `/jobs/${nobody}/stop`, '[]');
  assert.deepEqual(array.body, { errors: ['the body of POST /jobs/:jobid/stop must be a JSON object'] });
  const empty = await call('POST', `/jobs/${nobody}/stop`, '{"targetDirectory": ""}');
  assert.deepEqual(empty.body, { errors: ['"targetDirectory" in the body of POST /jobs/:jobid/stop must be a non-empty string, got ""'] });
  assert.equal((await call('POST', `/jobs/${nobody}/stop`, '{"targetDirectory": null, "drain": null}')).status, 404, 'null fields count as absent');

  const huge = await call('POST', '/jobs', ' '.repeat(64 * 1024 * 1024 + 1));
  assert.equal(huge.status, 413);
  assert.deepEqual(huge.body, { errors: ['request body exceeds 64 MiB'] });
  assert.equal(huge.headers.get('connection'), 'close');
});

test('more modules serve beside the API, with its error handling', async () => {
  const m = await call('GET', '/extra-metrics');
  assert.equal(m.status, 200);
  assert.equal(m.body, 'weir_jobs 0\n');
  assert.deepEqual((await call('GET', '/v1/jobs/abc/extra')).body, { job: 'abc' });
  const wrong = await call('POST', '/extra-metrics');
  assert.equal(wrong.status, 405);
  assert.deepEqual(wrong.body, { errors: ['POST is not allowed on /extra-metrics (allowed: GET)'] });
});
