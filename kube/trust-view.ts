/**
 * Everything a trust decision reads from the cluster besides the genome: the trusted keys
 * (kube/trust-source.ts), the GenomeTrustPolicies, and the labels of each namespace. The webhook
 * and the operator both judge with it (core/trust-policy.ts `judge`). Fresh only while all three
 * watches are: a policy or a namespace label that changes unseen could weaken trust as surely
 * as a revoked key, so staleness of any of them is the keys' staleness (no decision, no gate
 * opens).
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { sha256Hex } from '../core/canonical.ts';
import { displayValue } from '../core/display.ts';
import type { Logger } from '../core/log.ts';
import { readTrustPolicy } from '../core/trust-policy-read.ts';
import type { TrustPolicy, TrustPolicyStatus } from '../core/trust-policy.ts';
import { holdersOf, type TrustedKey } from '../core/trust.ts';
import { startInformer, type Informer } from './informer.ts';
import type { KeySource, TrustSource } from './trust-source.ts';

/** The collection path of GenomeTrustPolicies (cluster-scoped). */
export const TRUST_POLICIES_PATH = '/apis/mathison.io/v1alpha1/genometrustpolicies';

/** What a trust decision reads, current, with its freshness and its changes. */
export interface TrustView extends KeySource {
  /** Every GenomeTrustPolicy, by name; one that cannot be read carries its `problem`. */
  policies(): readonly TrustPolicy[];
  /** Calls `listener` when only a policy's status (or metadata) changed; returns an unsubscriber. */
  onPolicyStatusChange(listener: () => void): () => void;
  /**
   * The labels of a namespace, or undefined while the watch has not delivered it: then
   * nothing is judged (a namespace judged as unlabelled would escape the policies that
   * select it by its labels).
   */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /**
   * A version of everything a verdict in `namespace` depends on besides the genome and the
   * time: equal while keys (and their holders), policies and the namespace's labels are.
   */
  version(namespace: string): string;
}

/** A TrustView that also stops its watches. */
export interface RunningTrustView extends TrustView {
  stop(): Promise<void>;
}

/** How long the policy or namespace watch may be down before decisions stop (as the keys'). */
const STALE_AFTER_MS = 10_000;

interface NamespaceMeta extends KubernetesObject {
  metadata: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
}

/**
 * Starts watching the policies and the namespaces beside `keys`; resolves once both listed
 * (or after `syncTimeoutMs`, unsynced: then nothing is decided until they are).
 */
export async function watchTrustView(
  kc: KubeConfig,
  keys: TrustSource,
  log: Logger,
  options: { syncTimeoutMs?: number; staleAfterMs?: number } = {},
): Promise<RunningTrustView> {
  const policies = startInformer<KubernetesObject>(kc, { path: TRUST_POLICIES_PATH, log });
  const namespaces = startInformer<NamespaceMeta>(kc, {
    path: '/api/v1/namespaces',
    log,
    // Only the name and the labels: what policies select on.
    transform: (o) => {
      const { name, resourceVersion, labels } = o.metadata ?? {};
      return { metadata: { name, resourceVersion, labels } } as KubernetesObject;
    },
  });
  const timeout = options.syncTimeoutMs ?? 5_000;
  await Promise.all([policies.waitForSync(timeout), namespaces.waitForSync(timeout)]);
  return trustView(keys, policies, namespaces, options.staleAfterMs ?? STALE_AFTER_MS);
}

/** The view over a key source and two informers (exported for tests over fakes). */
export function trustView(
  keys: TrustSource,
  policyInformer: Informer<KubernetesObject>,
  namespaceInformer: Informer<NamespaceMeta>,
  staleAfterMs: number,
): RunningTrustView {
  const listeners = new Set<() => void>();
  const tell = () => listeners.forEach((l) => l());
  let policies: readonly TrustPolicy[] = [];
  let policiesVersion = '';
  const rebuild = () => {
    policies = policyInformer
      .list()
      .map(policyOf)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    // What decides: a status write (the operator's own counts) changes no verdict.
    const deciding = policies.map(({ name, spec, problem }) => ({ name, spec, problem }));
    const before = policiesVersion;
    policiesVersion = sha256Hex(Buffer.from(JSON.stringify(deciding))).slice(0, 16);
    return policiesVersion !== before;
  };
  rebuild();
  const statusListeners = new Set<() => void>();
  policyInformer.onChange(() => {
    if (rebuild()) tell();
    else statusListeners.forEach((l) => l());
  });
  namespaceInformer.onChange((e) => {
    if (e.type !== 'update' || !sameLabels(e.old, e.object)) tell();
  });
  const fresh = () =>
    keys.synced() &&
    policyInformer.healthy(staleAfterMs) &&
    namespaceInformer.healthy(staleAfterMs);
  const edges = [policyInformer, namespaceInformer].map((i) =>
    freshnessEdges(i, staleAfterMs, tell),
  );
  const unfollowKeys = keys.onChange(tell);
  const labels = (namespace: string) => {
    const known = namespaceInformer.get(namespace);
    return known === undefined ? undefined : (known.metadata.labels ?? {});
  };
  return {
    keys: () => keys.keys(),
    synced: fresh,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    policies: () => policies,
    onPolicyStatusChange: (listener) => {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    namespaceLabels: labels,
    version: (namespace) =>
      sha256Hex(
        Buffer.from(
          `${keyHoldersVersion(keys.keys())}|${policiesVersion}|${JSON.stringify(sortedLabels(labels(namespace) ?? {}))}`,
        ),
      ).slice(0, 16),
    stop: async () => {
      unfollowKeys();
      edges.forEach((e) => e.stop());
      await Promise.all([policyInformer.stop(), namespaceInformer.stop()]);
    },
  };
}

/** A stored policy as the decision takes it (never throws: an unreadable one has a problem). */
function policyOf(object: KubernetesObject): TrustPolicy {
  const name = object.metadata?.name ?? '';
  const read = readTrustPolicy(object);
  const stored = {
    ...(object.metadata?.generation !== undefined && { generation: object.metadata.generation }),
    ...(isRecord((object as { status?: unknown }).status) && {
      status: (object as { status: TrustPolicyStatus }).status,
    }),
  };
  if ('spec' in read) return { ...read, ...stored };
  return {
    name,
    spec: { mode: 'Enforce' },
    problem: `the stored policy cannot be read (${read.code}: ${displayValue(read.message)})`,
    ...stored,
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function sameLabels(a: NamespaceMeta, b: NamespaceMeta): boolean {
  return (
    JSON.stringify(sortedLabels(a.metadata.labels ?? {})) ===
    JSON.stringify(sortedLabels(b.metadata.labels ?? {}))
  );
}

function sortedLabels(labels: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const holderVersions = new WeakMap<readonly TrustedKey[], string>();

/**
 * A version of the keys with everything a policy reads of them: holders, test marks, windows.
 * Computed once per key set (the trust source builds a new array on every change; every gate
 * and Genome reconcile asks).
 */
export function keyHoldersVersion(keys: readonly TrustedKey[]): string {
  const known = holderVersions.get(keys);
  if (known !== undefined) return known;
  const lines = keys
    .map((k) => `${k.keyId} ${k.key.spkiBase64} ${JSON.stringify(holdersOf(k))}`)
    .sort();
  const version = sha256Hex(Buffer.from(lines.join('\n'))).slice(0, 16);
  holderVersions.set(keys, version);
  return version;
}

/**
 * Tells `tell` whenever freshness may have turned: when the informer goes down or comes back,
 * and once more when a down spell has lasted `staleAfterMs`.
 */
function freshnessEdges<T extends KubernetesObject>(
  informer: Informer<T>,
  staleAfterMs: number,
  tell: () => void,
): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  informer.onDownChange(() => {
    clearTimeout(timer);
    tell();
    const since = informer.downSince();
    if (since === undefined) return;
    timer = setTimeout(tell, Math.max(0, since + staleAfterMs - Date.now()) + 1);
    timer.unref();
  });
  return { stop: () => clearTimeout(timer) };
}
