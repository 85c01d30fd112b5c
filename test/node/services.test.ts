// Services on the real node: reached from the host and from a pod, EndpointSlice membership
// driven by a readiness gate through pods/status (the primitive the operator drives).
import { DiscoveryV1Api, type V1EndpointSlice } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, kubeClient, kubectl, uniqueNamespace } from '../support/cluster.ts';
import { apply, hasCondition, readPod, testContainer, waitForPod } from './support.ts';

const GATE = 'genome.mathison.io/verified';
let ns: string;

beforeAll(async () => {
  ns = await uniqueNamespace('node-svc');
});

function service(name: string, app: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

async function clusterIp(name: string): Promise<string> {
  const out = await kubectl(['get', 'svc', '-n', ns, name, '-o', 'jsonpath={.spec.clusterIP}']);
  return out.stdout.trim();
}

async function readyAddresses(serviceName: string): Promise<string[]> {
  const slices = await kubeClient()
    .makeApiClient(DiscoveryV1Api)
    .listNamespacedEndpointSlice({
      namespace: ns,
      labelSelector: `kubernetes.io/service-name=${serviceName}`,
    });
  return slices.items.flatMap((s: V1EndpointSlice) =>
    (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses),
  );
}

describe('a Service', () => {
  it('routes to its pod from the host side and from another pod', async () => {
    await apply(
      ns,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'backend', labels: { app: 'backend' } },
        spec: {
          containers: [
            testContainer('server', [], {
              env: [{ name: 'MESSAGE', value: 'through the service' }],
              readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
            }),
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'caller' },
        spec: { containers: [testContainer('server')] },
      },
      service('backend', 'backend'),
    );
    const backend = await waitForPod(ns, 'backend', 'Ready', (p) => hasCondition(p, 'Ready'));
    await waitForPod(ns, 'caller', 'Running', (p) => p.status?.phase === 'Running');
    const ip = await clusterIp('backend');
    await eventually('the backend in the EndpointSlice', async () =>
      (await readyAddresses('backend')).includes(backend.status?.podIP ?? '') ? true : undefined,
    );

    // From the host: the ClusterIP is routed into the node's namespace, where kube-proxy's rules are.
    const fromHost = await eventually('the Service to answer the host', async () => {
      const res = await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(2_000) }).catch(
        () => undefined,
      );
      return res?.ok ? ((await res.json()) as { hostname: string; message: string }) : undefined;
    });
    expect(fromHost).toEqual({ hostname: 'backend', message: 'through the service' });

    const fromPod = await kubectl([
      'exec',
      '-n',
      ns,
      'caller',
      '--',
      '/test-server',
      'get',
      `http://${ip}/`,
    ]);
    expect(JSON.parse(fromPod.stdout)).toEqual({
      hostname: 'backend',
      message: 'through the service',
    });
  });
});

describe('a pod with a readiness gate', () => {
  const setGate = (status: 'True' | 'False') =>
    kubectl([
      'patch',
      'pod',
      '-n',
      ns,
      'gated',
      '--subresource=status',
      '--type=strategic',
      '-p',
      JSON.stringify({ status: { conditions: [{ type: GATE, status }] } }),
    ]);

  it('is Ready and in the EndpointSlice only while a client holds the gate True, without restarting', async () => {
    await apply(
      ns,
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'gated', labels: { app: 'gated' } },
        spec: { readinessGates: [{ conditionType: GATE }], containers: [testContainer('server')] },
      },
      service('gated', 'gated'),
    );
    const running = await waitForPod(ns, 'gated', 'with its containers ready', (p) =>
      hasCondition(p, 'ContainersReady'),
    );
    const podIp = running.status?.podIP ?? '';
    // The containers are ready, but the gate is not set: the pod stays NotReady and out of the slice.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(hasCondition(await readPod(ns, 'gated'), 'Ready')).toBe(false);
    expect(await readyAddresses('gated')).not.toContain(podIp);

    await setGate('True');
    await waitForPod(ns, 'gated', 'Ready', (p) => hasCondition(p, 'Ready'));
    await eventually('the pod in the EndpointSlice', async () =>
      (await readyAddresses('gated')).includes(podIp) ? true : undefined,
    );

    await setGate('False');
    const notReady = await waitForPod(ns, 'gated', 'NotReady', (p) => !hasCondition(p, 'Ready'));
    await eventually('the pod out of the EndpointSlice', async () =>
      (await readyAddresses('gated')).includes(podIp) ? undefined : true,
    );
    expect(notReady.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    expect(notReady.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
  });
});
