// Isolation of the node's network: every cluster range goes to the node's veth (or nowhere) on
// the host, and nothing has a way out of the node's namespace. `ip route get` sends nothing.
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { uniqueNamespace } from '../support/cluster.ts';
import { apply, containerPid, routeGet, testContainer, waitForPod } from './support.ts';

let podIp: string;
let otherPodIp: string;
let pid: number;

beforeAll(async () => {
  const ns = await uniqueNamespace('node-net');
  await apply(
    ns,
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'a' },
      spec: { containers: [testContainer('server')] },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'b' },
      spec: { containers: [testContainer('server')] },
    },
  );
  const a = await waitForPod(ns, 'a', 'Running', (p) => p.status?.phase === 'Running');
  const b = await waitForPod(ns, 'b', 'Running', (p) => p.status?.phase === 'Running');
  podIp = a.status?.podIP ?? '';
  otherPodIp = b.status?.podIP ?? '';
  pid = containerPid(a);
});

describe('routes for the cluster ranges', () => {
  it('on the host, go to the node veth for pods, services and the node, and nowhere for the rest of the block', () => {
    const { ranges } = inject('node');
    const viaVeth = new RegExp(`dev ${ranges.hostLink}\\b`);
    expect(routeGet(podIp)).toMatch(viaVeth);
    expect(routeGet(ranges.kubernetesServiceIp)).toMatch(viaVeth);
    expect(routeGet(ranges.nodeAddress)).toMatch(viaVeth);
    // An unused address of the block: unreachable, never the default route.
    const [a, b, c] = ranges.hostAddress.split('.');
    const unused = `${a}.${b}.${Number(c) + 2}.9`;
    // (An `unreachable` route answers EHOSTUNREACH: "No route to host".)
    expect(routeGet(unused)).toMatch(/No route to host/);
    expect(
      execFileSync('ip', ['route', 'show', 'type', 'unreachable'], { encoding: 'utf8' }),
    ).toContain(ranges.block);
  });

  it('from a pod, go through the bridge to the node, and the node has no route out', () => {
    const { ranges, namespacePid } = inject('node');
    expect(routeGet(otherPodIp, pid)).toMatch(/dev eth0/);
    expect(routeGet(otherPodIp, pid)).not.toMatch(/via/);
    for (const address of [ranges.kubernetesServiceIp, ranges.hostAddress, '192.0.2.1'])
      expect(routeGet(address, pid)).toMatch(
        new RegExp(`via ${ranges.bridgeAddress.replace(/\./g, '\\.')} dev eth0`),
      );
    // In the node's namespace: pods on the bridge, the host on the veth, and nothing else.
    expect(routeGet(podIp, namespacePid)).toMatch(/dev cni0/);
    expect(routeGet(ranges.hostAddress, namespacePid)).toMatch(
      new RegExp(`dev ${ranges.nodeLink}\\b`),
    );
    for (const outside of ['192.0.2.1', '1.1.1.1', '10.0.0.1'])
      expect(routeGet(outside, namespacePid)).toMatch(/Network is unreachable/);
  });
});
