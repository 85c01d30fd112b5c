import {
  booleanOf,
  integerOf,
  kubeconfigOf,
  listenAddress,
  nameOf,
  namespaceOf,
  settingsResult,
  settingValues,
  type SettingsResult as Result,
  type SettingsSources,
} from '../core/settings.ts';

import { logLevelOf, type LogLevel } from '../core/log.ts';

export type { SettingsSources } from '../core/settings.ts';

/** The operator's configuration, from flags and the environment (flags win). */
export interface Settings {
  /** The operator's own namespace: trust Secrets, the Lease, the webhook's TLS Secret. */
  namespace: string;
  /** A kubeconfig file, or undefined for the in-cluster service account. */
  kubeconfig: string | undefined;
  production: boolean;
  /**
   * Whether a pod's own genome.mathison.io/containers and boot-check: "false" annotations
   * narrow what its gate requires (a weaker guarantee; the webhook's setting of that name
   * must agree). Default false: every application container must run on the genome.
   */
  allowInjectionOptOut: boolean;
  leaderElect: boolean;
  leaseName: string;
  identity: string;
  healthHost: string;
  healthPort: number;
  workers: number;
  webhookTlsSecret: string;
  /** The lowest level logged (core/log.ts). */
  logLevel: LogLevel;
}

/** Settings, or the message that says what is wrong and how to fix it. */
export type SettingsResult = Result<Settings>;

/** The flags, each with the environment variable behind it. */
export const ENV_OF = {
  namespace: 'GENOME_NAMESPACE',
  kubeconfig: 'KUBECONFIG',
  production: 'GENOME_PRODUCTION',
  'allow-injection-opt-out': 'GENOME_ALLOW_INJECTION_OPT_OUT',
  'leader-elect': 'OPERATOR_LEADER_ELECT',
  'lease-name': 'OPERATOR_LEASE_NAME',
  identity: 'POD_NAME',
  'health-listen': 'OPERATOR_HEALTH_LISTEN',
  workers: 'OPERATOR_WORKERS',
  'webhook-tls-secret': 'WEBHOOK_TLS_SECRET',
  'log-level': 'GENOME_LOG_LEVEL',
} as const;

/**
 * Reads and checks the configuration. Fails closed: an unknown flag, a missing namespace, an
 * unreadable kubeconfig, no cluster credentials at all, or a bad value is an error with a
 * message that says what to do, before anything talks to the API server.
 */
export function readSettings(sources: SettingsSources): SettingsResult {
  return settingsResult(() => settingsFrom(sources));
}

function settingsFrom(sources: SettingsSources): Settings {
  const value = settingValues(sources, ENV_OF);
  const [healthHost, healthPort] = listenAddress(
    'health-listen',
    value('health-listen') ?? '0.0.0.0:8080',
  );
  return {
    namespace: namespaceOf(value('namespace') ?? sources.serviceAccountNamespace),
    kubeconfig: kubeconfigOf(value('kubeconfig'), sources),
    production: booleanOf('production', value('production') ?? 'false'),
    allowInjectionOptOut: booleanOf(
      'allow-injection-opt-out',
      value('allow-injection-opt-out') ?? 'false',
    ),
    leaderElect: booleanOf('leader-elect', value('leader-elect') ?? 'true'),
    leaseName: nameOf('lease-name', value('lease-name') ?? 'genome-operator'),
    identity: value('identity') ?? `${sources.hostname}-${process.pid}`,
    healthHost,
    healthPort,
    ...runningSettings(value),
  };
}

/** How the operator runs: its workers, the webhook's TLS Secret it watches, its log level. */
function runningSettings(value: (name: keyof typeof ENV_OF) => string | undefined) {
  return {
    workers: integerOf('workers', value('workers') ?? '4', 1, 64),
    webhookTlsSecret: nameOf(
      'webhook-tls-secret',
      value('webhook-tls-secret') ?? 'genome-webhook-tls',
    ),
    logLevel: logLevelOf('log-level', value('log-level') ?? 'info'),
  };
}
