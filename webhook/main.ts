/**
 * The validating webhook process: wiring only. Reads its configuration from the environment
 * (see docs/webhook.md), watches the trusted keys of its namespace, serves HTTPS with a
 * self-managed or mounted certificate, and stops cleanly on SIGTERM/SIGINT.
 */
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import {
  FIELD_MANAGER,
  GENOME_GROUP,
  GENOME_PLURAL,
  GENOME_VERSION,
  MANAGED_BY_LABEL,
} from '../core/api.ts';
import { errorMessage, jsonLogger, stdoutLines } from '../core/log.ts';
import { DEFAULT_POLICY } from '../core/verify.ts';
import { startInformer } from '../kube/informer.ts';
import {
  configMapView,
  genomeView,
  type ConfigMapView,
  type GenomeView,
} from '../core/publication.ts';
import { watchTrustedKeys } from '../kube/trust-source.ts';
import { createApp } from './app.ts';
import { fileCertificateSource } from '../tls/file-source.ts';
import { selfManagedCertificateSource } from '../tls/self-managed-source.ts';
import { serveHttps, type CertificateSource } from '../tls/serving.ts';
import { PooledKubeConfig } from '../kube/kubeconfig.ts';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The webhook's settings, from the environment. */
interface Settings {
  namespace: string;
  host: string;
  port: number;
  tlsMode: 'self-managed' | 'files';
  tlsDir: string;
  tlsSecret: string;
  configurations: string[];
  mutatingConfigurations: string[];
  bootCheckImage: string;
  bootCheckPullPolicy: string;
  allowInjectionOptOut: boolean;
  dnsNames: string[];
  ipAddresses: string[];
}

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function ownNamespace(env: NodeJS.ProcessEnv): string {
  if (env.GENOME_NAMESPACE) return env.GENOME_NAMESPACE;
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE))
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  return 'genome-system';
}

function tlsMode(env: NodeJS.ProcessEnv): Settings['tlsMode'] {
  const mode = env.WEBHOOK_TLS_MODE ?? 'self-managed';
  if (mode !== 'self-managed' && mode !== 'files') {
    throw new Error(`WEBHOOK_TLS_MODE must be self-managed or files, not ${mode}`);
  }
  return mode;
}

/** The product image, which runs the boot check as the injected init container. */
function bootCheckSettings(env: NodeJS.ProcessEnv) {
  const optOut = env.GENOME_ALLOW_INJECTION_OPT_OUT ?? 'false';
  if (optOut !== 'true' && optOut !== 'false')
    throw new Error(`GENOME_ALLOW_INJECTION_OPT_OUT must be true or false, not ${optOut}`);
  return {
    bootCheckImage: env.GENOME_BOOT_CHECK_IMAGE ?? 'genome.local/genome-operator:v1',
    bootCheckPullPolicy: env.GENOME_BOOT_CHECK_PULL_POLICY ?? 'IfNotPresent',
    // A pod's own annotations may narrow the injection only where the cluster allows it.
    allowInjectionOptOut: optOut === 'true',
  };
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const namespace = ownNamespace(env);
  const [host = '0.0.0.0', port = '8443'] = (env.WEBHOOK_LISTEN ?? '0.0.0.0:8443').split(
    /:(?=\d+$)/,
  );
  const service = env.WEBHOOK_SERVICE ?? 'genome-webhook';
  const serviceNames = [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
  return {
    namespace,
    host,
    port: Number(port),
    tlsMode: tlsMode(env),
    tlsDir: env.WEBHOOK_TLS_DIR ?? '/etc/genome-webhook/tls',
    tlsSecret: env.WEBHOOK_TLS_SECRET ?? 'genome-webhook-tls',
    configurations: list(env.WEBHOOK_CONFIGURATIONS ?? 'genome-operator'),
    mutatingConfigurations: list(env.WEBHOOK_MUTATING_CONFIGURATIONS ?? 'genome-operator'),
    ...bootCheckSettings(env),
    dnsNames: env.WEBHOOK_DNS_NAMES === undefined ? serviceNames : list(env.WEBHOOK_DNS_NAMES),
    ipAddresses: list(env.WEBHOOK_IP_ADDRESSES),
  };
}

function certificates(
  settings: Settings,
  kubeConfig: KubeConfig,
  logger: ReturnType<typeof jsonLogger>,
): CertificateSource {
  if (settings.tlsMode === 'files') return fileCertificateSource({ dir: settings.tlsDir, logger });
  return selfManagedCertificateSource({
    kubeConfig,
    namespace: settings.namespace,
    secretName: settings.tlsSecret,
    validatingWebhooks: settings.configurations,
    mutatingWebhooks: settings.mutatingConfigurations,
    dnsNames: settings.dnsNames,
    ipAddresses: settings.ipAddresses,
    logger,
  });
}

/**
 * The log's lines: one write per turn of the event loop, not per line (core/log.ts), and what
 * is pending at exit.
 */
const lines = stdoutLines();

async function main(): Promise<void> {
  const log = jsonLogger(lines.write, { component: 'genome-webhook' });
  const settings = readSettings(process.env);
  const kubeConfig = new PooledKubeConfig();
  kubeConfig.loadFromDefault();
  log.info('starting', {
    namespace: settings.namespace,
    listen: `${settings.host}:${settings.port}`,
    tls: settings.tlsMode,
  });
  const trust = await watchTrustedKeys(kubeConfig, settings.namespace, log);
  // For the pod mutation, admission reads these caches, never the API. Every Genome of the
  // cluster and every ConfigMap labelled as the operator's publication, each kept as a small
  // bounded view (core/publication.ts): tenants write these objects. Small pages: a list page
  // is held whole before its objects are shrunk, and either kind can be over a megabyte.
  const genomes = startInformer(kubeConfig, {
    path: `/apis/${GENOME_GROUP}/${GENOME_VERSION}/${GENOME_PLURAL}`,
    log,
    pageSize: 20,
    transform: (object, previous) => genomeView(object, previous) as KubernetesObject,
  });
  const configMaps = startInformer(kubeConfig, {
    path: '/api/v1/configmaps',
    labelSelector: `${MANAGED_BY_LABEL}=${FIELD_MANAGER}`,
    log,
    pageSize: 20,
    transform: (object, previous) =>
      configMapView(object, previous as ConfigMapView | undefined) as KubernetesObject,
  });
  await Promise.all([genomes.waitForSync(5_000), configMaps.waitForSync(5_000)]);
  const source = certificates(settings, kubeConfig, log);
  await source.start();
  const app = createApp({
    trust,
    certificateValid: () => source.isValid(),
    policy: DEFAULT_POLICY,
    log,
    // Request bodies: webhook/body.ts's defaults (per endpoint, and 32 MiB in flight).
    pods: {
      genomes: {
        get: (key) => genomes.get(key) as GenomeView | undefined,
        synced: () => genomes.synced(),
      },
      configMaps: {
        get: (key) => configMaps.get(key) as ConfigMapView | undefined,
        synced: () => configMaps.synced(),
      },
      injection: {
        image: settings.bootCheckImage,
        imagePullPolicy: settings.bootCheckPullPolicy,
        allowOptOut: settings.allowInjectionOptOut,
      },
    },
  });
  const serving = await serveHttps(app, source, { host: settings.host, port: settings.port });
  // A request that stalls must not hold a socket forever; the API server gives up after 5 s.
  serving.server.requestTimeout = 10_000;
  serving.server.headersTimeout = 10_000;
  log.info('serving', { port: serving.port });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    source.stop();
    // Finish on the open connections before stopping: the API server keeps its keep-alive
    // connections to this pod after the endpoint is gone, and does not retry a POST that met
    // a reset. Idle ones end at the keep-alive timeout (which node stretches by its buffer),
    // so the drain is that plus a second.
    const { keepAliveTimeout, keepAliveTimeoutBuffer = 0 } = serving.server as {
      keepAliveTimeout: number;
      keepAliveTimeoutBuffer?: number;
    };
    const drainMs = keepAliveTimeout + keepAliveTimeoutBuffer + 1_000;
    // The keys and Genomes stay watched until the last answer is sent.
    await serving
      .close({ drainMs })
      .catch((err: unknown) => log.error('close failed', { err: errorMessage(err) }));
    await Promise.allSettled([trust.stop(), genomes.stop(), configMaps.stop()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  lines.flush(); // what it logged before failing comes first
  process.stderr.write(
    `${JSON.stringify({ level: 'error', msg: 'webhook failed to start', err: err instanceof Error ? err.message : String(err) })}\n`,
  );
  process.exit(1);
});
