/**
 * Reading a program's settings from its flags and environment, and the checks the operator and
 * the webhook share, so that both refuse the same bad value with the same words. Pure: the
 * caller hands in what the process has (kube/start-up.ts reads it).
 */
import { parseArgs } from 'node:util';

/** What a program's readSettings may look at: argv, the environment, and whether files exist. */
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
export type SettingsResult<S> = { ok: true; settings: S } | { ok: false; message: string };

/** A refused setting; its message says what is wrong and what to do. */
export class SettingsError extends Error {}

/** The settings `read` returns, or the message of the first refusal it throws. */
export function settingsResult<S>(read: () => S): SettingsResult<S> {
  try {
    return { ok: true, settings: read() };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Parses argv against the flags of `envOf` (flag name → the environment variable behind it)
 * and returns a reader of each setting: the flag's value, else the variable's; an empty value is
 * unset. An unknown flag or an argument that is not a flag is refused, naming the known flags.
 */
export function settingValues<F extends string>(
  sources: SettingsSources,
  envOf: Readonly<Record<F, string>>,
): (name: F) => string | undefined {
  const names = Object.keys(envOf) as F[];
  const options = Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));
  let flags: Partial<Record<F, string>>;
  try {
    const parsed = parseArgs({ args: [...sources.argv], options, strict: true });
    flags = parsed.values as Partial<Record<F, string>>;
  } catch (err) {
    const known = names.map((n) => `--${n}`).join(', ');
    throw new SettingsError(`${(err as Error).message}; the flags are ${known}`);
  }
  return (name) => {
    const given = flags[name] ?? sources.env[envOf[name]];
    return given === '' ? undefined : given;
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The program's own namespace: given, else the pod's; refused when neither says one. */
export function namespaceOf(namespace: string | undefined): string {
  if (namespace === undefined) {
    throw new SettingsError(
      'no namespace: set --namespace or GENOME_NAMESPACE to the namespace of the trust Secrets (in a pod it is read from the service account)',
    );
  }
  return nameOf('namespace', namespace.trim());
}

/** `name`, refused unless it is a DNS-1123 label (a namespace, a Secret, a Lease). */
export function nameOf(flag: string, name: string): string {
  if (!DNS_LABEL.test(name)) throw new SettingsError(`--${flag} "${name}" is not a DNS-1123 label`);
  return name;
}

/** `name`, refused unless it is a DNS-1123 subdomain of at most 253 characters (an object name). */
export function subdomainOf(flag: string, name: string): string {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new SettingsError(`--${flag} "${name}" is not a DNS-1123 subdomain`);
  }
  return name;
}

/**
 * The kubeconfig path, each of its files readable; or undefined in a pod (the service account).
 * Refused when it names an unreadable file, or when there is neither it nor a pod.
 */
export function kubeconfigOf(
  path: string | undefined,
  sources: SettingsSources,
): string | undefined {
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

/** true or false, and nothing else. */
export function booleanOf(flag: string, text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new SettingsError(`--${flag} must be true or false, not "${text}"`);
}

/** An integer from min to max. */
export function integerOf(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SettingsError(`--${flag} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return n;
}

/** One of `choices`. */
export function choiceOf<C extends string>(flag: string, text: string, choices: readonly C[]): C {
  if (!(choices as readonly string[]).includes(text)) {
    throw new SettingsError(`--${flag} must be one of ${choices.join(', ')}, not "${text}"`);
  }
  return text as C;
}

/** host:port as [host, port]; an empty host is every address (0.0.0.0). */
export function listenAddress(flag: string, text: string): [string, number] {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) {
    throw new SettingsError(`--${flag} must be host:port, not "${text}"`);
  }
  return [match[1] || '0.0.0.0', port];
}

/** A comma-separated list, each entry trimmed, empty ones left out. */
export function listOf(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
