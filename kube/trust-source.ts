import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../core/log.ts';
import {
  trustFromSecrets,
  TRUSTED_KEYS_LABEL,
  type TrustedKey,
  type TrustOrigin,
  type TrustProblem,
} from '../core/trust.ts';
import type { BackoffOptions } from './backoff.ts';
import { recordEvent } from './events.ts';
import { startInformer, type Informer } from './informer.ts';

/** The trusted keys of a namespace, kept current by a watch on its labelled Secrets. */
export interface TrustSource {
  /** The current keys; a new array after every change, never mutated. */
  keys(): readonly TrustedKey[];
  /** Entries that were refused (private keys, bad encodings, conflicts). */
  problems(): readonly TrustProblem[];
  /**
   * True once listed, and the watch not down for `staleAfterMs` (else a revoked key may
   * linger). A watch that stops delivering without failing is down after `stallAfterMs`.
   */
  synced(): boolean;
  /** Since when (epoch ms) the keys count as stale (see synced), or undefined while current. */
  staleSince(): number | undefined;
  /**
   * Calls `listener` after every change of the key set, and when the keys turn stale or current
   * again; returns a function that stops calling it.
   */
  onChange(listener: () => void): () => void;
  stop(): Promise<void>;
}

/** The trusted keys as the programs read them: the keys, their freshness and their changes. */
export type KeySource = Pick<TrustSource, 'keys' | 'synced' | 'onChange'>;

/** How long the trust watch may be down, how long to wait for the first list, how to retry. */
export interface TrustSourceOptions {
  /** How long the watch may be down before the keys count as stale (default 10 s). */
  staleAfterMs?: number;
  /**
   * How long one watch lasts before the API server ends it and it is resumed (default 10 s):
   * each resumption proves the connection alive, so a half-open one is not kept for long.
   */
  watchTimeoutSeconds?: number;
  /** A watch still open this long after its timeout counts as down (default 15 s). */
  stallAfterMs?: number;
  /** How long watchTrustedKeys waits for the first list before it returns unsynced (default 5 s). */
  syncTimeoutMs?: number;
  backoff?: BackoffOptions;
}

/**
 * Watches the Secrets labelled genome.mathison.io/trusted-keys=true in `namespace` and keeps
 * the parsed key set in memory, so admission never calls the API server. A refused entry
 * (private key material, a bad encoding, a key id two Secrets claim with different keys) is
 * never used: it is logged and reported as a Warning Event on every Secret involved, once per
 * Secret version.
 */
export async function watchTrustedKeys(
  kc: KubeConfig,
  namespace: string,
  log: Logger,
  options: TrustSourceOptions = {},
): Promise<TrustSource> {
  const informer = startInformer<V1Secret>(kc, {
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`,
    labelSelector: `${TRUSTED_KEYS_LABEL}=true`,
    log,
    backoff: options.backoff,
    // Short watches, each resumed: a silent, half-open watch is noticed within STALL_AFTER_MS
    // rather than the informer's default 150 s (a removed key would go unseen meanwhile).
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? WATCH_TIMEOUT_SECONDS,
    stallAfterMs: options.stallAfterMs ?? STALL_AFTER_MS,
  });
  const state = new TrustState(informer, namespace, log, (secret, problem) =>
    recordEvent(kc, secret, problemNote(problem), log),
  );
  informer.onChange(() => state.rebuild());
  if (await informer.waitForSync(options.syncTimeoutMs ?? 5_000)) state.rebuild();
  const staleAfterMs = options.staleAfterMs ?? STALE_AFTER_MS;
  // Keys from a watch that has been failing for a while may still include a revoked one.
  const synced = () => informer.healthy(staleAfterMs);
  const freshness = watchFreshness(informer, synced, staleAfterMs, () => state.tell());
  return {
    keys: () => state.keys,
    problems: () => state.problems,
    synced,
    staleSince: () => {
      const down = informer.downSince();
      if (!informer.synced()) return down ?? 0;
      return synced() || down === undefined ? undefined : down + staleAfterMs;
    },
    onChange: (listener) => {
      state.listeners.push(listener);
      return () => {
        const at = state.listeners.indexOf(listener);
        if (at >= 0) state.listeners.splice(at, 1);
      };
    },
    stop: () => {
      freshness.stop();
      return informer.stop();
    },
  };
}

/**
 * Tells `tell` whenever `synced` turns from true to false or back: checked when the watch goes
 * down or comes back, and once more when a down watch has lasted `staleAfterMs`. Event-driven,
 * so a stale spell shorter than any polling period is still told (both of its edges).
 */
function watchFreshness(
  informer: Informer<V1Secret>,
  synced: () => boolean,
  staleAfterMs: number,
  tell: () => void,
): { stop(): void } {
  let was = synced();
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const now = synced();
    if (now !== was) tell();
    was = now;
  };
  informer.onDownChange(() => {
    clearTimeout(timer);
    check();
    const since = informer.downSince();
    if (since === undefined) return;
    // A millisecond late, so the clock has passed the bound when synced() is asked again.
    timer = setTimeout(check, Math.max(0, since + staleAfterMs - Date.now()) + 1);
    timer.unref();
  });
  return { stop: () => clearTimeout(timer) };
}

/** How long the trust watch may be down before the keys count as stale (readiness fails). */
const STALE_AFTER_MS = 10_000;
/** How long one trust watch lasts before it is resumed; see TrustSourceOptions. */
const WATCH_TIMEOUT_SECONDS = 10;
/** A trust watch open this long without an event or its end counts as down. */
const STALL_AFTER_MS = 15_000;

type Report = (secret: V1Secret, problem: TrustProblem) => Promise<void>;

/** The key set parsed from the cached Secrets, and which problems were already reported. */
class TrustState {
  keys: readonly TrustedKey[] = Object.freeze([]);
  problems: readonly TrustProblem[] = [];
  readonly listeners: (() => void)[] = [];
  private reported = new Set<string>();

  constructor(
    private readonly informer: Informer<V1Secret>,
    private readonly namespace: string,
    private readonly log: Logger,
    private readonly report: Report,
  ) {}

  rebuild(): void {
    const set = trustFromSecrets(this.informer.list());
    this.keys = Object.freeze(set.keys);
    this.problems = set.problems;
    this.log.info('trusted keys loaded', {
      namespace: this.namespace,
      keys: this.keys.map((k) => k.keyId),
      refused: this.problems.length,
    });
    const stillReported = new Set<string>();
    for (const problem of this.problems) {
      logProblem(this.log, this.namespace, problem);
      for (const origin of problem.origins) this.reportOnce(problem, origin, stillReported);
    }
    // Forget what no longer applies, so a problem that comes back is reported again.
    this.reported = stillReported;
    this.tell();
  }

  /** Calls every listener. */
  tell(): void {
    for (const listener of this.listeners) listener();
  }

  private reportOnce(problem: TrustProblem, origin: TrustOrigin, seen: Set<string>): void {
    const secret = this.informer.get(`${origin.namespace}/${origin.name}`);
    if (secret === undefined) return;
    const { uid, resourceVersion } = secret.metadata ?? {};
    const version = `${uid}/${resourceVersion}/${origin.entry}/${problem.message}`;
    seen.add(version);
    if (this.reported.has(version)) return;
    this.reported.add(version);
    void this.report(secret, problem);
  }
}

function problemNote(problem: TrustProblem) {
  return {
    type: 'Warning' as const,
    reason: problem.privateKey ? 'PrivateKeyInTrustStore' : 'TrustedKeyInvalid',
    message: `${problem.code}: ${problem.message}`,
  };
}

function logProblem(log: Logger, namespace: string, problem: TrustProblem): void {
  const secrets = problem.origins.map((o) => o.name);
  const fields = { namespace, secrets, keyId: problem.keyId, code: problem.code };
  if (problem.privateKey)
    log.error('PRIVATE KEY in a trust Secret: entry ignored; rotate this key', fields);
  else log.warn(`trusted key refused: ${problem.message}`, fields);
}
