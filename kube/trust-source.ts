import { CoreV1Api, makeInformer, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../core/log.ts';
import {
  trustFromSecrets,
  TRUSTED_KEYS_LABEL,
  type TrustedKey,
  type TrustProblem,
} from '../core/trust.ts';
import { recordEvent } from './events.ts';

/** The trusted keys of a namespace, kept current by a watch on its labelled Secrets. */
export interface TrustSource {
  /** The current keys; a new array after every change, never mutated. */
  keys(): readonly TrustedKey[];
  /** Entries that were refused (private keys, bad encodings, conflicts). */
  problems(): readonly TrustProblem[];
  /** True once the first list has been read. */
  synced(): boolean;
  /** Called after every change of the key set. */
  onChange(listener: () => void): void;
  stop(): Promise<void>;
}

/**
 * Watches the Secrets labelled genome.mathison.io/trusted-keys=true in `namespace` and keeps
 * the parsed key set in memory, so admission never calls the API server. Private key material
 * found in such a Secret is never used: it is logged as an error and reported as a Warning
 * Event on the Secret, once per Secret version.
 */
export async function watchTrustedKeys(
  kc: KubeConfig,
  namespace: string,
  log: Logger,
): Promise<TrustSource> {
  const api = kc.makeApiClient(CoreV1Api);
  const selector = `${TRUSTED_KEYS_LABEL}=true`;
  const informer = makeInformer<V1Secret>(
    kc,
    `/api/v1/namespaces/${namespace}/secrets`,
    () => api.listNamespacedSecret({ namespace, labelSelector: selector }),
    selector,
  );
  let keys: readonly TrustedKey[] = [];
  let problems: readonly TrustProblem[] = [];
  let synced = false;
  const listeners: (() => void)[] = [];
  const reported = new Set<string>();

  const rebuild = () => {
    const secrets = informer.list(namespace);
    const set = trustFromSecrets(secrets);
    keys = Object.freeze(set.keys);
    problems = set.problems;
    log.info('trusted keys loaded', {
      namespace,
      keys: keys.map((k) => k.keyId),
      refused: problems.length,
    });
    for (const problem of problems) reportProblem(problem, secrets);
    for (const listener of listeners) listener();
  };

  const reportProblem = (problem: TrustProblem, secrets: readonly V1Secret[]) => {
    const secret = secrets.find((s) => problem.source.includes(`/${s.metadata?.name}`));
    logProblem(log, namespace, problem, secret?.metadata?.name);
    const version = `${secret?.metadata?.uid}/${secret?.metadata?.resourceVersion}/${problem.keyId}`;
    if (secret === undefined || reported.has(version)) return;
    reported.add(version);
    const reason = problem.privateKey ? 'PrivateKeyInTrustStore' : 'TrustedKeyInvalid';
    const note = {
      type: 'Warning' as const,
      reason,
      message: `${problem.code}: ${problem.message}`,
    };
    void recordEvent(kc, secret, note, log);
  };

  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, rebuild);
  informer.on('error', (err: unknown) =>
    log.warn('trust Secret watch failed; retrying', { namespace, err: String(err) }),
  );
  await informer.start();
  rebuild();
  synced = true;
  return {
    keys: () => keys,
    problems: () => problems,
    synced: () => synced,
    onChange: (listener) => listeners.push(listener),
    stop: () => informer.stop(),
  };
}

function logProblem(log: Logger, namespace: string, problem: TrustProblem, secret?: string): void {
  const fields = { namespace, secret, keyId: problem.keyId, code: problem.code };
  if (problem.privateKey)
    log.error('PRIVATE KEY in a trust Secret: entry ignored; rotate this key', fields);
  else log.warn(`trusted key refused: ${problem.message}`, fields);
}
