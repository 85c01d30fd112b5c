import { pickFreePorts } from '../../cluster/ports.ts';
import { spawnWebhook, webhookReadyz } from '../../cluster/webhook-process.ts';
import { eventually, kubeconfigPath } from './cluster.ts';

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
