import {
  CoreV1Api,
  ListWatch,
  Watch,
  type Informer,
  type KubeConfig,
  type V1Secret,
} from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../core/log.ts';
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
  staleAfterMs = STALE_AFTER_MS,
): Promise<TrustSource> {
  const api = kc.makeApiClient(CoreV1Api);
  const selector = `${TRUSTED_KEYS_LABEL}=true`;
  const informer = new ListWatch<V1Secret>(
    `/api/v1/namespaces/${namespace}/secrets`,
    new Watch(kc),
    () => api.listNamespacedSecret({ namespace, labelSelector: selector }),
    false,
    selector,
  );
  let keys: readonly TrustedKey[] = [];
  let problems: readonly TrustProblem[] = [];
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
    const secret = secrets.find(
      (s) => problem.source === `Secret ${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`,
    );
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
  const watch = keepWatching(informer, (err) =>
    log.warn('trust Secret watch failed; retrying', { namespace, err: errorMessage(err) }),
  );
  await informer.start();
  rebuild();
  return {
    keys: () => keys,
    problems: () => problems,
    // Listed at least once (the informer has a resourceVersion only after a successful list),
    // and the watch not down for long: keys from a broken watch may include a revoked one.
    synced: () => informer.latestResourceVersion() !== '' && watch.downFor() < staleAfterMs,
    onChange: (listener) => listeners.push(listener),
    stop: async () => {
      watch.stop();
      await informer.stop();
    },
  };
}

/** How long the trust watch may be down before the keys count as stale (readiness fails). */
const STALE_AFTER_MS = 10_000;

const MAX_BACKOFF_MS = 30_000;

/**
 * client-node's informer reconnects by itself only after a 410 or a timeout; after any other
 * error (an API server restart, a reset connection) it stops. This restarts it with backoff,
 * and says how long it has been down, so that a revoked key is never trusted indefinitely.
 */
function keepWatching(
  informer: Informer<V1Secret>,
  onError: (err: unknown) => void,
): { downFor(): number; stop(): void } {
  let downSince: number | undefined;
  let backoff = 500;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const restart = () => {
    timer = setTimeout(() => {
      timer = undefined;
      informer.start().then(
        () => {
          downSince = undefined;
          backoff = 500;
        },
        (err: unknown) => {
          onError(err);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          if (!stopped) restart();
        },
      );
    }, backoff);
  };
  informer.on('error', (err?: unknown) => {
    onError(err);
    downSince ??= Date.now();
    if (!stopped && timer === undefined) restart();
  });
  return {
    downFor: () => (downSince === undefined ? 0 : Date.now() - downSince),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function logProblem(log: Logger, namespace: string, problem: TrustProblem, secret?: string): void {
  const fields = { namespace, secret, keyId: problem.keyId, code: problem.code };
  if (problem.privateKey)
    log.error('PRIVATE KEY in a trust Secret: entry ignored; rotate this key', fields);
  else log.warn(`trusted key refused: ${problem.message}`, fields);
}
