import { isIP } from 'node:net';
import { logLevelOf, type LogLevel } from '../core/log.ts';
import {
  booleanOf,
  choiceOf,
  kubeconfigOf,
  listenAddress,
  listOf,
  nameOf,
  namespaceOf,
  settingsResult,
  SettingsError,
  settingValues,
  subdomainOf,
  type SettingsResult,
  type SettingsSources,
} from '../core/settings.ts';

/** The webhook's configuration, from flags and the environment (flags win). */
export interface WebhookSettings {
  /** The webhook's own namespace: trust Secrets and the TLS Secret. */
  namespace: string;
  /** A kubeconfig file, or undefined for the in-cluster service account. */
  kubeconfig: string | undefined;
  host: string;
  port: number;
  tlsMode: 'self-managed' | 'files';
  /** files mode: where tls.crt and tls.key are. */
  tlsDir: string;
  /** self-managed mode: the Secret that holds the CA and the serving certificate. */
  tlsSecret: string;
  /** ValidatingWebhookConfigurations whose caBundle self-managed mode keeps in step. */
  configurations: string[];
  /** MutatingWebhookConfigurations whose caBundle self-managed mode keeps in step. */
  mutatingConfigurations: string[];
  /** The product image, which runs the boot check as the injected init container. */
  bootCheckImage: string;
  bootCheckPullPolicy: PullPolicy;
  /**
   * Whether a pod's own annotations may narrow the injection (the operator's setting of that
   * name must agree). Default false.
   */
  allowInjectionOptOut: boolean;
  /** The serving certificate's names (self-managed mode). */
  dnsNames: string[];
  ipAddresses: string[];
  /** The lowest level logged (core/log.ts). */
  logLevel: LogLevel;
}

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
type PullPolicy = (typeof PULL_POLICIES)[number];

/** The flags, each with the environment variable behind it. */
export const WEBHOOK_ENV_OF = {
  namespace: 'GENOME_NAMESPACE',
  kubeconfig: 'KUBECONFIG',
  listen: 'WEBHOOK_LISTEN',
  service: 'WEBHOOK_SERVICE',
  'tls-mode': 'WEBHOOK_TLS_MODE',
  'tls-dir': 'WEBHOOK_TLS_DIR',
  'tls-secret': 'WEBHOOK_TLS_SECRET',
  configurations: 'WEBHOOK_CONFIGURATIONS',
  'mutating-configurations': 'WEBHOOK_MUTATING_CONFIGURATIONS',
  'boot-check-image': 'GENOME_BOOT_CHECK_IMAGE',
  'boot-check-pull-policy': 'GENOME_BOOT_CHECK_PULL_POLICY',
  'allow-injection-opt-out': 'GENOME_ALLOW_INJECTION_OPT_OUT',
  'dns-names': 'WEBHOOK_DNS_NAMES',
  'ip-addresses': 'WEBHOOK_IP_ADDRESSES',
  'log-level': 'GENOME_LOG_LEVEL',
} as const;

type Flag = keyof typeof WEBHOOK_ENV_OF;
type Value = (name: Flag) => string | undefined;

/**
 * Reads and checks the webhook's configuration as the operator's readSettings does, and fails
 * closed the same way: an unknown flag, a missing namespace, an unreadable kubeconfig, no
 * cluster credentials at all, or a bad value is an error with a message that says what to do,
 * before anything talks to the API server.
 */
export function readWebhookSettings(sources: SettingsSources): SettingsResult<WebhookSettings> {
  return settingsResult(() => settingsFrom(sources));
}

function settingsFrom(sources: SettingsSources): WebhookSettings {
  const value = settingValues(sources, WEBHOOK_ENV_OF);
  const namespace = namespaceOf(value('namespace') ?? sources.serviceAccountNamespace);
  const [host, port] = listenAddress('listen', value('listen') ?? '0.0.0.0:8443');
  return {
    namespace,
    kubeconfig: kubeconfigOf(value('kubeconfig'), sources),
    host,
    port,
    ...tlsSettings(value, namespace),
    ...injectionSettings(value),
    logLevel: logLevelOf('log-level', value('log-level') ?? 'info'),
  };
}

function tlsSettings(value: Value, namespace: string) {
  const service = nameOf('service', value('service') ?? 'genome-webhook');
  const serviceNames = [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
  const dnsNames = value('dns-names');
  return {
    tlsMode: choiceOf('tls-mode', value('tls-mode') ?? 'self-managed', ['self-managed', 'files']),
    tlsDir: value('tls-dir') ?? '/etc/genome-webhook/tls',
    tlsSecret: nameOf('tls-secret', value('tls-secret') ?? 'genome-webhook-tls'),
    configurations: objectNames('configurations', value('configurations')),
    mutatingConfigurations: objectNames(
      'mutating-configurations',
      value('mutating-configurations'),
    ),
    dnsNames:
      dnsNames === undefined
        ? serviceNames
        : listOf(dnsNames).map((name) => subdomainOf('dns-names', name)),
    ipAddresses: listOf(value('ip-addresses')).map((ip) => ipAddressOf(ip)),
  };
}

function injectionSettings(value: Value) {
  return {
    bootCheckImage: value('boot-check-image') ?? 'genome.local/genome-operator:v1',
    bootCheckPullPolicy: choiceOf(
      'boot-check-pull-policy',
      value('boot-check-pull-policy') ?? 'IfNotPresent',
      PULL_POLICIES,
    ),
    allowInjectionOptOut: booleanOf(
      'allow-injection-opt-out',
      value('allow-injection-opt-out') ?? 'false',
    ),
  };
}

/** A list of webhook configuration names (default genome-operator), each a DNS-1123 subdomain. */
function objectNames(flag: Flag, text: string | undefined): string[] {
  return listOf(text ?? 'genome-operator').map((name) => subdomainOf(flag, name));
}

function ipAddressOf(text: string): string {
  if (isIP(text) === 0) throw new SettingsError(`--ip-addresses "${text}" is not an IP address`);
  return text;
}
