import { request } from 'node:https';
import { pickFreePorts } from '../../cluster/ports.ts';
import { spawnWebhook, webhookReadyz } from '../../cluster/webhook-process.ts';
import { eventually, kubeconfigPath, kubectl } from './cluster.ts';

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
 * Starts the real webhook as a separate process against the test cluster, listening on
 * 127.0.0.1, and waits until its /readyz answers 200.
 */
export async function startWebhook(options: WebhookOptions): Promise<RunningWebhook> {
  const port = options.port ?? (await pickFreePorts(1))[0]!;
  const webhook = spawnWebhook({
    kubeconfigPath: kubeconfigPath(),
    namespace: options.namespace,
    configName: options.configName,
    listen: `127.0.0.1:${port}`,
    ...(options.env && { env: options.env }),
  });
  try {
    await eventually(
      'the webhook to be ready',
      async () => {
        const code = webhook.exitCode();
        if (code !== null) throw new Error(`webhook exited with ${code}:\n${webhook.output()}`);
        return (await webhookReadyz(port)) === 200 ? true : undefined;
      },
      60_000,
    );
  } catch (err) {
    await webhook.stop();
    throw new Error(`${(err as Error).message}\n--- webhook output ---\n${webhook.output()}`, {
      cause: err,
    });
  }
  return { port, url: `https://127.0.0.1:${port}`, output: webhook.output, stop: webhook.stop };
}

/**
 * genome_webhook_requests_total of a local webhook for one endpoint, summed over results, from
 * its /metrics (over HTTPS; the serving certificate is not checked for a local scrape).
 */
export async function webhookRequests(
  port: number,
  endpoint: 'validate-genome' | 'mutate-pod',
): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics: ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('/metrics timed out')));
    req.end();
  });
  const prefix = `genome_webhook_requests_total{endpoint="${endpoint}",`;
  const lines = text.split('\n').filter((l) => l.startsWith(prefix));
  if (lines.length === 0) throw new Error(`no ${prefix}...} series in /metrics`);
  return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * Waits until the API server calls the pod webhook over TLS: a dry-run create of `probe` in
 * `namespace` comes back carrying `marker` (until the API server has the caBundle the webhook
 * publishes, labelled pods fail closed).
 */
export async function podWebhookAnswers(
  namespace: string,
  probe: object,
  marker: string,
): Promise<void> {
  await eventually(
    'the API server to call the pod webhook over TLS',
    async () => {
      const out = await kubectl(
        ['create', '--dry-run=server', '-n', namespace, '-f', '-', '-o', 'json'],
        { input: JSON.stringify(probe), allowFailure: true },
      );
      return out.stdout.includes(marker) ? true : undefined;
    },
    30_000,
  );
}
