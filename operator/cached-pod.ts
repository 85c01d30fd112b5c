/**
 * The operator's pod cache keeps of each labelled pod only what the gates (operator/gate.ts) and
 * the rollouts (operator/rollout.ts) read (operator/cached.ts CachedPod), each value bounded:
 * whatever a tenant writes into a pod (256 KiB of annotations, thousands of volumes), a cached
 * pod stays a few hundred bytes, at most a few KiB. A field either reads that is not kept
 * here reads as absent: add it here, bounded, with it.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { GENOME_ID_ANNOTATION, VERIFIED_READINESS_GATE } from '../core/api.ts';
import { MAX_MESSAGE_CHARS } from '../core/display.ts';
import {
  checkInjection,
  type InjectionPod,
  type InjectionPolicy,
} from '../core/injection-check.ts';
import { BOOT_CHECK_CONTAINER, GENOME_VOLUME } from '../core/plan-injection.ts';
import {
  keptEntry,
  keptLabels,
  keptString,
  MAX_ID_CHARS,
  MAX_IDENTITY_CHARS,
} from './cache-bounds.ts';
import type { CachedPod, CachedPodCondition } from './cached.ts';

/**
 * Longest gate condition message kept. The operator's own messages are at most
 * MAX_MESSAGE_CHARS (and a clip note): a longer one cannot be the operator's, so it is kept as
 * a marker, which differs from any message the operator would write (it writes it again).
 */
const MAX_CONDITION_MESSAGE_CHARS = 2 * MAX_MESSAGE_CHARS;
/** Longest phase, condition status or reason kept. */
const MAX_WORD_CHARS = 256;

type Loose = Record<string, unknown>;
const record = (value: unknown): Loose =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : {};
const array = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Keeps only the defined values of `fields`. */
function defined<T extends Loose>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
}

function metadataOf(metadata: Loose): CachedPod['metadata'] {
  const text = (key: string) => keptString(metadata[key], MAX_IDENTITY_CHARS);
  return defined({
    name: text('name'),
    namespace: text('namespace'),
    uid: text('uid'),
    resourceVersion: text('resourceVersion'),
    // The API server's string, typed as client-node's V1ObjectMeta has it: only its presence is read.
    deletionTimestamp: text('deletionTimestamp') as Date | undefined,
    labels: keptLabels(metadata.labels),
    annotations: keptEntry(metadata.annotations, GENOME_ID_ANNOTATION, MAX_ID_CHARS),
  });
}

/** Only the genome volume, and of it only the ConfigMap's name. */
function volumesOf(spec: Loose): NonNullable<CachedPod['spec']>['volumes'] {
  const volume = array(spec.volumes)
    .map(record)
    .find((v) => v.name === GENOME_VOLUME);
  if (volume === undefined) return undefined;
  const name = keptString(record(volume.configMap).name, MAX_IDENTITY_CHARS);
  return [{ name: GENOME_VOLUME, ...(name !== undefined && { configMap: { name } }) }];
}

function specOf(pod: Loose, spec: Loose, policy: InjectionPolicy): CachedPod['spec'] {
  const gated = array(spec.readinessGates).some(
    (g) => record(g).conditionType === VERIFIED_READINESS_GATE,
  );
  return defined({
    volumes: volumesOf(spec),
    readinessGates: gated ? [{ conditionType: VERIFIED_READINESS_GATE }] : undefined,
    // Computed here, from containers the cache does not keep; bounded (names are clipped).
    injection: gated ? checkInjection(pod as InjectionPod, policy) : undefined,
  });
}

/** Only the gate's condition. */
function conditionsOf(status: Loose): CachedPodCondition[] | undefined {
  const condition = array(status.conditions)
    .map(record)
    .find((c) => c.type === VERIFIED_READINESS_GATE);
  if (condition === undefined) return undefined;
  return [
    defined({
      type: VERIFIED_READINESS_GATE,
      status: keptString(condition.status, MAX_WORD_CHARS),
      reason: keptString(condition.reason, MAX_WORD_CHARS),
      message: keptString(condition.message, MAX_CONDITION_MESSAGE_CHARS),
      lastTransitionTime: keptString(condition.lastTransitionTime, MAX_IDENTITY_CHARS),
    }),
  ];
}

/**
 * The boot check's last termination: its exit code and termination message (the kubelet keeps
 * at most 4 KiB of it; a longer one is kept as a marker), from its current state, else its last
 * state (a boot check restarting after a refusal still counts as refused).
 */
function bootCheckOf(status: Loose): NonNullable<CachedPod['status']>['bootCheck'] {
  const check = array(status.initContainerStatuses)
    .map(record)
    .find((c) => c.name === BOOT_CHECK_CONTAINER);
  if (check === undefined) return undefined;
  const now = record(record(check.state).terminated);
  const last = record(record(check.lastState).terminated);
  const terminated = typeof now.exitCode === 'number' ? now : last;
  if (typeof terminated.exitCode !== 'number') return undefined;
  return defined({
    exitCode: terminated.exitCode,
    message: keptString(terminated.message, MAX_CONDITION_MESSAGE_CHARS),
  });
}

function statusOf(status: Loose): CachedPod['status'] {
  return defined({
    phase: keptString(status.phase, MAX_WORD_CHARS),
    conditions: conditionsOf(status),
    bootCheck: bootCheckOf(status),
  });
}

/**
 * The informer transform of the operator's pod cache: a pod shrunk to its identity, labels
 * (bounded; its workload's selector reads them), the genome id annotation, the genome volume's
 * ConfigMap name, the operator's readiness gate and condition, its phase, and the boot check's
 * last exit code and termination message. Never throws.
 */
export function shrinkPod<T extends KubernetesObject>(
  object: T,
  policy: InjectionPolicy = { allowOptOut: false },
): T {
  const pod = record(object);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: metadataOf(record(pod.metadata)),
    spec: specOf(pod, record(pod.spec), policy),
    status: statusOf(record(pod.status)),
  } as unknown as T;
}

/** The pod cache's transform under the cluster's injection policy (see shrinkPod). */
export function podTransform(policy: InjectionPolicy) {
  return <T extends KubernetesObject>(object: T): T => shrinkPod(object, policy);
}
