import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { environmentWithoutProxies } from '../harness/processes.ts';
import { pickFreePorts } from '../harness/ports.ts';
import { eventually, kubeconfigPath } from './cluster.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** A webhook process started by a test. */
export interface RunningWebhook {
  port: number;
  url: string;
  /** Everything the process logged, for assertions and for failure messages. */
  output(): string;
  /** Stops the process (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of startWebhook: the webhook's own namespace and the configuration it keeps in step. */
export interface WebhookOptions {
  namespace: string;
  configName: string;
  port?: number;
  env?: Record<string, string>;
}

/**
 * Starts the real webhook (tsx webhook/main.ts) as a separate process against the test
 * cluster, listening on 127.0.0.1, and waits until its /readyz answers 200.
 */
export async function startWebhook(options: WebhookOptions): Promise<RunningWebhook> {
  const port = options.port ?? (await pickFreePorts(1))[0]!;
  let output = '';
  const child: ChildProcess = spawn(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    [join(ROOT, 'webhook', 'main.ts')],
    {
      env: {
        ...environmentWithoutProxies(),
        KUBECONFIG: kubeconfigPath(),
        GENOME_NAMESPACE: options.namespace,
        WEBHOOK_LISTEN: `127.0.0.1:${port}`,
        WEBHOOK_CONFIGURATIONS: options.configName,
        WEBHOOK_IP_ADDRESSES: '127.0.0.1',
        WEBHOOK_DNS_NAMES: 'localhost',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: RunningWebhook = {
    port,
    url: `https://127.0.0.1:${port}`,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  try {
    await eventually(
      'the webhook to be ready',
      async () => {
        if (child.exitCode !== null)
          throw new Error(`webhook exited with ${child.exitCode}:\n${output}`);
        return (await readyz(port)) === 200 ? true : undefined;
      },
      60_000,
    );
  } catch (err) {
    await handle.stop();
    throw new Error(`${(err as Error).message}\n--- webhook output ---\n${output}`, { cause: err });
  }
  return handle;
}

/** GET /readyz on the local webhook; the status code, or 0 when it does not answer. */
export function readyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    // A local readiness probe, as a kubelet makes it: the serving certificate is not checked here.
    const req = request(
      { host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
