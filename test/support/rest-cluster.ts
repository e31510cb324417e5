/**
 * A dispatcher with its REST server on an ephemeral port of 127.0.0.1, in a fresh directory, for
 * tests of the REST API over real HTTP; and the cluster-* job fixtures as a submission carries
 * them (their source).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dispatcher, type JobSubmission } from '../../src/cluster/dispatcher.ts';
import { RestClient } from '../../src/rest/rest-client.ts';
import { startRestServer, type RestServer } from '../../src/rest/rest-server.ts';

export interface TestCluster {
  /** The fresh directory everything of this cluster goes into. */
  readonly root: string;
  readonly dispatcher: Dispatcher;
  readonly server: RestServer;
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  readonly client: RestClient;
  /** Shuts the dispatcher and the server down and deletes the directory. */
  close(): Promise<void>;
}

/** `config(root)`: the cluster configuration, given the cluster's directory. */
export async function startTestCluster(o: { readonly slots: number; readonly config: (root: string) => Record<string, string> }): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), 'weir-rest-cluster-'));
  const dispatcher = new Dispatcher({ slots: o.slots, jobsDir: join(root, 'jobs'), config: o.config(root) });
  const server = await startRestServer(dispatcher, { port: 0 });
  const base = `http://127.0.0.1:${server.port}`;
  return {
    root,
    dispatcher,
    server,
    base,
    client: new RestClient(base),
    async close() {
      await dispatcher.shutdown();
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** test/jobs/<name>.ts as a submission carries it. */
export function jobFixture(name: string): JobSubmission['jobModule'] {
  return { fileName: `${name}.ts`, source: readFileSync(fileURLToPath(new URL(`../jobs/${name}.ts`, import.meta.url)), 'utf8') };
}
