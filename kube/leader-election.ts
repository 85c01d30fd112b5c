import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
} from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../core/log.ts';
import { isConflict, isNotFound } from './errors.ts';

/** Timings of client-go's leader election defaults. */
export interface LeaseTimings {
  /** How long a holder's claim lasts after its last renewal, as others observe it. */
  leaseDurationMs: number;
  /** A leader that cannot renew for this long steps down. */
  renewDeadlineMs: number;
  /** How often to try to acquire or renew. */
  retryPeriodMs: number;
}

/** client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry. */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** Where the Lease is and who is asking. */
export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This replica's identity (its pod name, or host and pid). */
  identity: string;
  log: Logger;
  timings?: LeaseTimings;
}

/** What to do on gaining and on losing the lead. */
export interface LeadershipCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

/** A running election. */
export interface LeaderElector {
  isLeader(): boolean;
  /** Stops campaigning and, when leading, releases the Lease so a standby takes over at once. */
  release(): Promise<void>;
}

/** What this replica last saw of the Lease, and when (on its own clock: no clock skew). */
interface Observation {
  holder: string;
  /** The resourceVersion seen. */
  renewTime: string;
  durationMs: number;
  at: number;
}

/**
 * Campaigns for a coordination.k8s.io Lease as client-go's leaderelection does: acquire when
 * the Lease is free, released or not renewed for its duration (as observed locally), renew
 * every retry period, and step down when renewing fails for the renew deadline. After losing
 * the lead it campaigns again, so a replica that lost the API server for a while comes back.
 */
export function startLeaderElection(
  options: LeaderElectionOptions,
  callbacks: LeadershipCallbacks,
): LeaderElector {
  const timings = options.timings ?? DEFAULT_LEASE_TIMINGS;
  const lease = leaseClient(options, timings);
  let leader = false;
  let stopped = false;
  const campaign = async () => {
    while (!stopped) {
      if (await lease.tryAcquireOrRenew()) {
        leader = true;
        options.log.info('became the leader', { lease: options.name, identity: options.identity });
        callbacks.onStartedLeading();
        await renewUntilLost(lease, timings, () => stopped);
        leader = false;
        if (stopped) return;
        options.log.warn('lost the leader Lease', { lease: options.name });
        callbacks.onStoppedLeading();
      }
      await sleep(jittered(timings.retryPeriodMs));
    }
  };
  const running = campaign();
  return {
    isLeader: () => leader,
    release: async () => {
      stopped = true;
      await running;
      if (lease.held()) await lease.release();
    },
  };
}

/** Renews every retry period until a renewal has failed for the renew deadline, or stop. */
async function renewUntilLost(
  lease: LeaseClient,
  timings: LeaseTimings,
  stopped: () => boolean,
): Promise<void> {
  let renewed = Date.now();
  while (!stopped()) {
    await sleep(timings.retryPeriodMs);
    if (stopped()) return;
    const left = renewed + timings.renewDeadlineMs - Date.now();
    if (left > 0 && (await withTimeout(lease.tryAcquireOrRenew(), left))) renewed = Date.now();
    else if (Date.now() - renewed >= timings.renewDeadlineMs) return lease.forget();
  }
}

/** The Lease calls, with what this replica last observed. */
interface LeaseClient {
  tryAcquireOrRenew(): Promise<boolean>;
  release(): Promise<void>;
  held(): boolean;
  forget(): void;
}

function leaseClient(options: LeaderElectionOptions, timings: LeaseTimings): LeaseClient {
  const api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  const { namespace, name, identity, log } = options;
  let observed: Observation | undefined;
  let current: V1Lease | undefined;
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    try {
      const existing = await readLease(api, namespace, name);
      const now = Date.now();
      if (existing === undefined) {
        current = await api.createNamespacedLease({
          namespace,
          body: leaseBody(undefined, identity, timings, name),
        });
        return true;
      }
      observed = observe(existing, observed, now, timings);
      if (
        observed.holder !== '' &&
        observed.holder !== identity &&
        now < observed.at + observed.durationMs
      ) {
        return false;
      }
      current = await api.replaceNamespacedLease({
        name,
        namespace,
        body: leaseBody(existing, identity, timings, name),
      });
      return true;
    } catch (err) {
      if (!isConflict(err))
        log.warn('leader Lease call failed', { lease: name, err: errorMessage(err) });
      return false;
    }
  };
  return {
    tryAcquireOrRenew,
    held: () => current?.spec?.holderIdentity === identity,
    forget: () => (current = undefined),
    release: async () => {
      if (current === undefined) return;
      const body = released(current);
      try {
        await api.replaceNamespacedLease({ name, namespace, body });
        log.info('released the leader Lease', { lease: name });
      } catch (err) {
        log.warn('could not release the leader Lease', { lease: name, err: errorMessage(err) });
      }
      current = undefined;
    },
  };
}

async function readLease(
  api: CoordinationV1Api,
  namespace: string,
  name: string,
): Promise<V1Lease | undefined> {
  try {
    return await api.readNamespacedLease({ name, namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Updates the observation: its time moves only when the record changed. */
function observe(
  lease: V1Lease,
  previous: Observation | undefined,
  now: number,
  timings: LeaseTimings,
): Observation {
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  // Any write to the Lease changes its resourceVersion: that is "the record changed".
  const renewTime = lease.metadata?.resourceVersion ?? '';
  const seconds = spec.leaseDurationSeconds ?? timings.leaseDurationMs / 1000;
  if (previous?.holder === holder && previous.renewTime === renewTime) return previous;
  return { holder, renewTime, durationMs: seconds * 1000, at: now };
}

/** The Lease claimed (or renewed) by `identity`, keeping the resourceVersion for the update. */
function leaseBody(
  existing: V1Lease | undefined,
  identity: string,
  timings: LeaseTimings,
  name: string,
): V1Lease {
  const now = new V1MicroTime();
  const spec = existing?.spec ?? {};
  const renewing = spec.holderIdentity === identity;
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...(existing?.metadata ?? {}), name },
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(timings.leaseDurationMs / 1000),
      acquireTime: renewing && spec.acquireTime ? spec.acquireTime : now,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing || existing === undefined ? 0 : 1),
    },
  };
}

/** The Lease given up, as client-go releases it: no holder, a one-second duration. */
function released(lease: V1Lease): V1Lease {
  const now = new V1MicroTime();
  return {
    ...lease,
    spec: {
      ...lease.spec,
      holderIdentity: '',
      leaseDurationSeconds: 1,
      renewTime: now,
      acquireTime: now,
    },
  };
}

function withTimeout(call: Promise<boolean>, ms: number): Promise<boolean> {
  return Promise.race([call, sleep(ms).then(() => false)]);
}

/** client-go jitters the retry period by up to 1.2 times. */
function jittered(ms: number): number {
  return ms * (1 + Math.random() * 0.2);
}
