import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { environmentWithoutProxies } from './processes.ts';

const ROOT = join(import.meta.dirname, '..');

/** How to run the webhook locally against a cluster. */
export interface WebhookProcessOptions {
  kubeconfigPath: string;
  namespace: string;
  configName: string;
  /** host:port */
  listen: string;
  /** Show its log on this terminal (make dev), or keep it for output() (tests). */
  showLog?: boolean;
  env?: Record<string, string>;
}

/** A running webhook process. */
export interface WebhookProcess {
  /** What it logged, when not shown on the terminal. */
  output(): string;
  /** The exit code, or null while it runs. */
  exitCode(): number | null;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the real webhook (tsx cmd/webhook.ts) as a separate process, serving on `listen`
 * with a certificate for 127.0.0.1 and localhost, keeping the caBundle of `configName`.
 */
export function spawnWebhook(options: WebhookProcessOptions): WebhookProcess {
  const child = spawn(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    [join(ROOT, 'cmd', 'webhook.ts')],
    {
      env: {
        ...environmentWithoutProxies(),
        KUBECONFIG: options.kubeconfigPath,
        GENOME_NAMESPACE: options.namespace,
        WEBHOOK_LISTEN: options.listen,
        WEBHOOK_CONFIGURATIONS: options.configName,
        WEBHOOK_IP_ADDRESSES: '127.0.0.1',
        WEBHOOK_DNS_NAMES: 'localhost',
        ...options.env,
      },
      stdio: ['ignore', options.showLog ? 'inherit' : 'pipe', options.showLog ? 'inherit' : 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output: () => output,
    exitCode: () => child.exitCode,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** GET /readyz on a local webhook: the HTTP status, or 0 when it does not answer. */
export function webhookReadyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    // A local probe, as a kubelet makes it: the serving certificate is not checked here.
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
