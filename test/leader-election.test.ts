import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.ts';
import {
  startLeaderElection,
  type LeaderElector,
  type LeaseTimings,
} from '../kube/leader-election.ts';
import { eventually, kubeClient, uniqueNamespace } from './support/cluster.ts';

// Short timings so the test is quick; the ratios are client-go's (15 : 10 : 2).
const timings: LeaseTimings = {
  leaseDurationMs: 3_000,
  renewDeadlineMs: 2_000,
  retryPeriodMs: 400,
};

const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.release()));
});

function candidate(namespace: string, identity: string, log: string[]) {
  const elector = startLeaderElection(
    {
      kubeConfig: kubeClient(),
      namespace,
      name: 'genome-operator',
      identity,
      log: silentLogger,
      timings,
    },
    {
      onStartedLeading: () => log.push(`${identity} started`),
      onStoppedLeading: () => log.push(`${identity} stopped`),
    },
  );
  electors.push(elector);
  return elector;
}

describe('leader election on a Lease', () => {
  it('of two candidates exactly one leads, and the Lease names it', async () => {
    const namespace = await uniqueNamespace('lease');
    const log: string[] = [];
    const a = candidate(namespace, 'a', log);
    const b = candidate(namespace, 'b', log);
    const leader = await eventually('a leader', async () =>
      a.isLeader() || b.isLeader() ? true : undefined,
    );
    expect(leader).toBe(true);
    await sleep(timings.leaseDurationMs + 500);
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const lease = await kubeClient()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: 'genome-operator', namespace });
    expect(lease.spec?.holderIdentity).toBe(a.isLeader() ? 'a' : 'b');
    expect(log).toHaveLength(1);
  });

  it('a released Lease is taken by the standby within a retry period, not a lease duration', async () => {
    const namespace = await uniqueNamespace('lease');
    const log: string[] = [];
    const a = candidate(namespace, 'a', log);
    await eventually('a to lead', async () => (a.isLeader() ? true : undefined));
    const b = candidate(namespace, 'b', log);
    await sleep(500);
    expect(b.isLeader()).toBe(false);
    const released = Date.now();
    await a.release();
    await eventually('b to lead', async () => (b.isLeader() ? true : undefined));
    expect(Date.now() - released).toBeLessThan(timings.retryPeriodMs * 1.2 + 1_000);
  });

  it('a leader that stops renewing without releasing is replaced after the lease duration', async () => {
    const namespace = await uniqueNamespace('lease');
    const api = kubeClient().makeApiClient(CoordinationV1Api);
    await api.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'genome-operator' },
        spec: {
          holderIdentity: 'dead',
          leaseDurationSeconds: 3,
          renewTime: new V1MicroTime(),
          acquireTime: new V1MicroTime(),
        },
      },
    });
    const log: string[] = [];
    const started = Date.now();
    const b = candidate(namespace, 'b', log);
    await sleep(1_500);
    expect(b.isLeader()).toBe(false);
    await eventually('b to take over', async () => (b.isLeader() ? true : undefined), 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(timings.leaseDurationMs);
    expect(Date.now() - started).toBeLessThan(
      timings.leaseDurationMs + 2 * timings.retryPeriodMs + 1_000,
    );
  });
});
