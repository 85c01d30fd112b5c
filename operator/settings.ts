import { parseArgs } from 'node:util';

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
}

/** What readSettings may look at: argv, the environment, and whether files exist. */
export interface SettingsSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** The in-cluster namespace file's content, when there is one. */
  serviceAccountNamespace: string | undefined;
  /** Whether a file can be read. */
  readable(path: string): boolean;
  hostname: string;
}

/** Settings, or the message that says what is wrong and how to fix it. */
export type SettingsResult = { ok: true; settings: Settings } | { ok: false; message: string };

const OPTIONS = {
  namespace: { type: 'string' },
  kubeconfig: { type: 'string' },
  production: { type: 'string' },
  'allow-injection-opt-out': { type: 'string' },
  'leader-elect': { type: 'string' },
  'lease-name': { type: 'string' },
  identity: { type: 'string' },
  'health-listen': { type: 'string' },
  workers: { type: 'string' },
  'webhook-tls-secret': { type: 'string' },
} as const;

/** The environment variable behind each flag. */
export const ENV_OF: Record<keyof typeof OPTIONS, string> = {
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
};

class SettingsError extends Error {}

/**
 * Reads and checks the configuration. Fails closed: an unknown flag, a missing namespace, an
 * unreadable kubeconfig, no cluster credentials at all, or a bad value is an error with a
 * message that says what to do, before anything talks to the API server.
 */
export function readSettings(sources: SettingsSources): SettingsResult {
  try {
    return { ok: true, settings: settingsFrom(sources) };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

function settingsFrom(sources: SettingsSources): Settings {
  const flags = parseFlags(sources.argv);
  const value = (name: keyof typeof OPTIONS): string | undefined => {
    const given = flags[name] ?? sources.env[ENV_OF[name]];
    return given === '' ? undefined : given;
  };
  const [healthHost, healthPort] = listenAddress(value('health-listen') ?? '0.0.0.0:8080');
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
    workers: integerOf('workers', value('workers') ?? '4', 1, 64),
    webhookTlsSecret: nameOf(
      'webhook-tls-secret',
      value('webhook-tls-secret') ?? 'genome-webhook-tls',
    ),
  };
}

function parseFlags(argv: readonly string[]): Partial<Record<keyof typeof OPTIONS, string>> {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false })
      .values;
  } catch (err) {
    const known = Object.keys(OPTIONS)
      .map((o) => `--${o}`)
      .join(', ');
    throw new SettingsError(`${(err as Error).message}; the flags are ${known}`);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceOf(namespace: string | undefined): string {
  if (namespace === undefined) {
    throw new SettingsError(
      'no namespace: set --namespace or GENOME_NAMESPACE to the namespace of the trust Secrets (in a pod it is read from the service account)',
    );
  }
  return nameOf('namespace', namespace.trim());
}

function nameOf(flag: string, name: string): string {
  if (!DNS_LABEL.test(name)) throw new SettingsError(`--${flag} "${name}" is not a DNS-1123 label`);
  return name;
}

function kubeconfigOf(path: string | undefined, sources: SettingsSources): string | undefined {
  if (path !== undefined) {
    // KUBECONFIG may list several files; each must be readable.
    const unreadable = path.split(':').filter((p) => p !== '' && !sources.readable(p));
    if (unreadable.length > 0) {
      throw new SettingsError(
        `cannot read the kubeconfig ${unreadable.join(', ')}: check the path and its permissions`,
      );
    }
    return path;
  }
  if (sources.env.KUBERNETES_SERVICE_HOST === undefined) {
    throw new SettingsError(
      'no cluster credentials: set --kubeconfig or KUBECONFIG, or run in a pod with a service account',
    );
  }
  return undefined;
}

function booleanOf(flag: string, text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new SettingsError(`--${flag} must be true or false, not "${text}"`);
}

function integerOf(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SettingsError(`--${flag} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return n;
}

function listenAddress(text: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) {
    throw new SettingsError(`--health-listen must be host:port, not "${text}"`);
  }
  return [match[1] || '0.0.0.0', port];
}
