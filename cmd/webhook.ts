/**
 * The webhook process: wiring only. Reads its settings (webhook/settings.ts) and fails closed as
 * the operator does, before it touches the cluster (exit 2, one JSON line on stderr); watches
 * the trusted keys of its namespace, the GenomeTrustPolicies and the namespaces' labels (what a
 * Genome is judged under), and every Genome and published ConfigMap for the pod mutation; serves both admission webhooks (Genomes, pods) and /healthz, /readyz and /metrics
 * over HTTPS with a self-managed or mounted certificate; on SIGTERM/SIGINT finishes on its open
 * connections, then exits.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import {
  FIELD_MANAGER,
  GENOME_GROUP,
  GENOME_PLURAL,
  GENOME_VERSION,
  MANAGED_BY_LABEL,
} from '../core/api.ts';
import { errorMessage, jsonLogger, stdoutLines, type Logger } from '../core/log.ts';
import {
  configMapView,
  genomeView,
  type ConfigMapView,
  type GenomeView,
} from '../core/publication.ts';
import { DEFAULT_POLICY } from '../core/verify.ts';
import { startInformer, type Informer } from '../kube/informer.ts';
import { exitWith, kubeConfigOrExit, settingsOrExit, settingsSources } from '../kube/start-up.ts';
import { watchTrustedKeys, type TrustSource } from '../kube/trust-source.ts';
import { watchTrustView, type RunningTrustView } from '../kube/trust-view.ts';
import { fileCertificateSource } from '../tls/file-source.ts';
import { selfManagedCertificateSource } from '../tls/self-managed-source.ts';
import { serveHttps, type CertificateSource, type HttpsServing } from '../tls/serving.ts';
import { createApp } from '../webhook/app.ts';
import { readWebhookSettings, type WebhookSettings } from '../webhook/settings.ts';

function certificates(
  settings: WebhookSettings,
  kubeConfig: KubeConfig,
  logger: Logger,
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

/** What the pod mutation admits from: caches, never the API on the admission path. */
interface PublishedInformers {
  genomes: Informer<KubernetesObject>;
  configMaps: Informer<KubernetesObject>;
}

/** What the app is built from, and what stops with the process. */
interface Parts {
  trust: TrustSource;
  /** The keys with the policies and the namespaces' labels: what admissions read. */
  view: RunningTrustView;
  published: PublishedInformers;
  source: CertificateSource;
}

/**
 * Every Genome of the cluster and every ConfigMap labelled as the operator's publication, each
 * kept as a small bounded view (core/publication.ts): tenants write these objects. Small pages:
 * a list page is held whole before its objects are shrunk, and either kind can be over a
 * megabyte.
 */
async function watchPublished(kubeConfig: KubeConfig, log: Logger): Promise<PublishedInformers> {
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
  return { genomes, configMaps };
}

function webhookApp(settings: WebhookSettings, parts: Parts, log: Logger) {
  const { genomes, configMaps } = parts.published;
  return createApp({
    trust: parts.view,
    certificateValid: () => parts.source.isValid(),
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
}

/**
 * On SIGTERM or SIGINT: stops rotating, finishes on the open connections, then stops the watches
 * (they stay until the last answer is sent) and exits.
 */
function stopOnSignals(serving: HttpsServing, parts: Parts, log: Logger): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    parts.source.stop();
    // The API server keeps its keep-alive connections to this pod after the endpoint is gone,
    // and does not retry a POST that met a reset. Idle ones end at the keep-alive timeout
    // (which node stretches by its buffer), so the drain is that plus a second.
    const { keepAliveTimeout, keepAliveTimeoutBuffer = 0 } = serving.server as {
      keepAliveTimeout: number;
      keepAliveTimeoutBuffer?: number;
    };
    const drainMs = keepAliveTimeout + keepAliveTimeoutBuffer + 1_000;
    await serving
      .close({ drainMs })
      .catch((err: unknown) => log.error('close failed', { err: errorMessage(err) }));
    const { genomes, configMaps } = parts.published;
    await Promise.allSettled([
      parts.view.stop(),
      parts.trust.stop(),
      genomes.stop(),
      configMaps.stop(),
    ]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * The log's lines: one write per turn of the event loop, not per line (core/log.ts), and what
 * is pending at exit.
 */
const lines = stdoutLines();

async function main(): Promise<void> {
  const sources = settingsSources(process.argv.slice(2), process.env);
  const settings = settingsOrExit(readWebhookSettings(sources), lines);
  const kubeConfig = kubeConfigOrExit(settings.kubeconfig, lines);
  const log = jsonLogger(
    lines.write,
    { component: 'genome-webhook' },
    undefined,
    settings.logLevel,
  );
  log.info('starting', {
    namespace: settings.namespace,
    listen: `${settings.host}:${settings.port}`,
    tls: settings.tlsMode,
  });
  const trust = await watchTrustedKeys(kubeConfig, settings.namespace, log);
  const view = await watchTrustView(kubeConfig, trust, log);
  const published = await watchPublished(kubeConfig, log);
  const source = certificates(settings, kubeConfig, log);
  await source.start();
  const parts = { trust, view, published, source };
  const app = webhookApp(settings, parts, log);
  const serving = await serveHttps(app, source, { host: settings.host, port: settings.port });
  // A request that stalls must not hold a socket forever; the API server gives up after 5 s.
  serving.server.requestTimeout = 10_000;
  serving.server.headersTimeout = 10_000;
  log.info('serving', { port: serving.port });
  stopOnSignals(serving, parts, log);
}

main().catch((err: unknown) => exitWith(lines, `webhook failed to start: ${errorMessage(err)}`, 1));
