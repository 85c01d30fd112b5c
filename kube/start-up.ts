/**
 * What both programs do before they touch the cluster, so that they do it the same way: gather
 * what their settings are read from, refuse bad settings (exit 2, one JSON line on stderr), and
 * load the kubeconfig into one connection pool.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, type LineBatch } from '../core/log.ts';
import type { SettingsResult, SettingsSources } from '../core/settings.ts';
import { PooledKubeConfig } from './kubeconfig.ts';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Exit code for configuration a program refuses to start with. */
export const EXIT_CONFIG = 2;

/**
 * What readSettings looks at in this process: `argv` and `env` as main hands them over, the
 * pod's namespace (from its service account), which files are readable, and the host name.
 */
export function settingsSources(
  argv: readonly string[],
  env: SettingsSources['env'],
): SettingsSources {
  return {
    argv,
    env,
    serviceAccountNamespace: existsSync(SERVICE_ACCOUNT_NAMESPACE)
      ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim()
      : undefined,
    readable: (path) => {
      try {
        accessSync(path, constants.R_OK);
        return true;
      } catch {
        return false;
      }
    },
    hostname: hostname(),
  };
}

/**
 * Writes `message` as one JSON error line on stderr, after the log lines still pending (so the
 * two streams keep their order), and exits with `code`.
 */
export function exitWith(lines: LineBatch, message: string, code: number): never {
  lines.flush();
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: message })}\n`,
  );
  process.exit(code);
}

/** The settings of `result`; or "invalid configuration: <why>" on stderr and exit 2. */
export function settingsOrExit<S>(result: SettingsResult<S>, lines: LineBatch): S {
  if (!result.ok) exitWith(lines, `invalid configuration: ${result.message}`, EXIT_CONFIG);
  return result.settings;
}

/**
 * Loads the kubeconfig into one connection pool: its files, merged in order (the first to name a
 * current context sets it, as in kubectl), or, when undefined, the pod's service account. Throws
 * when it does not load or names no current cluster.
 */
export function loadKubeConfig(kubeconfig: string | undefined): KubeConfig {
  const kc = new PooledKubeConfig();
  try {
    if (kubeconfig === undefined) kc.loadFromCluster();
    else loadFiles(kc, kubeconfig);
  } catch (err) {
    throw new Error(`cannot load the kubeconfig: ${errorMessage(err)}`, { cause: err });
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error('the kubeconfig has no current cluster (set current-context)');
  }
  return kc;
}

/** loadKubeConfig, or "invalid configuration: <why>" on stderr and exit 2. */
export function kubeConfigOrExit(kubeconfig: string | undefined, lines: LineBatch): KubeConfig {
  try {
    return loadKubeConfig(kubeconfig);
  } catch (err) {
    return exitWith(lines, `invalid configuration: ${errorMessage(err)}`, EXIT_CONFIG);
  }
}

function loadFiles(kc: KubeConfig, list: string): void {
  const [first = '', ...rest] = list.split(delimiter).filter((file) => file !== '');
  kc.loadFromFile(first);
  for (const file of rest) {
    const next = new PooledKubeConfig();
    next.loadFromFile(file);
    kc.mergeConfig(next, Boolean(kc.currentContext));
  }
}
