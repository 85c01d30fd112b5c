import { CoreV1Api, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startInformer, startInformerWith, type Informer } from '../kube/informer.ts';
import { httpListWatchClient, type ListWatchClient } from '../kube/list-watch-client.ts';
import { eventually, kubeClient, kubeconfigPath, uniqueNamespace } from './support/cluster.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const LABEL = 'informer-test';
const configMap = (namespace: string, name: string, colour: string): V1ConfigMap => ({
  metadata: { name, namespace, labels: { [LABEL]: 'yes' } },
  data: { colour },
});

let informer: Informer<KubernetesObject> | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await informer?.stop();
  await proxy?.close();
  informer = undefined;
  proxy = undefined;
});

describe('the informer against the API server', () => {
  it('sees an add, an update and a delete, with the objects, and only what the selector picks', async () => {
    const namespace = await uniqueNamespace('informer');
    const core = kubeClient().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace,
      body: configMap(namespace, 'before', 'red'),
    });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'unlabelled', namespace }, data: {} },
    });
    const i = startInformer<V1ConfigMap>(kubeClient(), {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      labelSelector: `${LABEL}=yes`,
    });
    informer = i;
    const seen: string[] = [];
    i.onChange((e) =>
      seen.push(`${e.type} ${e.object.metadata?.name} ${(e.object as V1ConfigMap).data?.colour}`),
    );
    expect(await i.waitForSync(10_000)).toBe(true);
    expect(i.list().map((o) => o.metadata?.name)).toEqual(['before']);

    await core.createNamespacedConfigMap({ namespace, body: configMap(namespace, 'cm', 'blue') });
    await core.patchNamespacedConfigMap({
      namespace,
      name: 'cm',
      body: [{ op: 'replace', path: '/data/colour', value: 'green' }],
    });
    await core.deleteNamespacedConfigMap({ namespace, name: 'cm' });
    await eventually('the delete', async () =>
      seen.includes('delete cm green') ? true : undefined,
    );
    expect(seen).toEqual(['add before red', 'add cm blue', 'update cm green', 'delete cm green']);
    expect(i.get(`${namespace}/cm`)).toBeUndefined();
    expect(i.get(`${namespace}/before`)?.data?.colour).toBe('red');
    expect(i.healthy(1000)).toBe(true);
  });

  // Kubernetes 1.37's watch cache serves a watch from resourceVersion 1, and even a compacted
  // continue token, from its own history (tried: etcd compaction, rv=1, continue after
  // compaction), so a real 410 cannot be provoked quickly here. The 410 Status the API server
  // sends for an expired resourceVersion is injected into a real watch stream instead; the
  // relist and everything after it go to the real API server.
  it('relists after a 410 Gone in the watch stream and carries on against the API server', async () => {
    const namespace = await uniqueNamespace('informer-gone');
    const core = kubeClient().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: configMap(namespace, 'early', 'x') });
    const real = httpListWatchClient<KubernetesObject>(
      kubeClient(),
      `/api/v1/namespaces/${namespace}/configmaps`,
    );
    let lists = 0;
    let watches = 0;
    const expired = {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Expired',
      code: 410,
      message: 'too old resource version',
    } as KubernetesObject;
    const client: ListWatchClient = {
      list: (q) => {
        lists += 1;
        return real.list(q);
      },
      watch: async (q, onEvent) => {
        watches += 1;
        // The first watch expires at once: none of its events reach the informer.
        const stream = await real.watch(q, watches === 1 ? () => {} : onEvent);
        if (watches === 1) {
          // Deleted while that watch is expired: only the relist can tell.
          await core.deleteNamespacedConfigMap({ namespace, name: 'early' });
          onEvent({ type: 'ERROR', object: expired });
        }
        return stream;
      },
    };
    const seen: string[] = [];
    const i = startInformerWith(client, {
      path: 'configmaps',
      labelSelector: `${LABEL}=yes`,
      backoff: { initialMs: 100, maxMs: 500 },
    });
    informer = i;
    i.onChange((e) => seen.push(`${e.type} ${e.object.metadata?.name}`));
    expect(await i.waitForSync(10_000)).toBe(true);
    await eventually('the relist after 410', async () => (lists >= 2 ? true : undefined));
    await eventually('the delete seen by the relist', async () =>
      i.get(`${namespace}/early`) ? undefined : true,
    );
    await core.createNamespacedConfigMap({ namespace, body: configMap(namespace, 'after', 'x') });
    await eventually('the object made after the relist', async () =>
      i.get(`${namespace}/after`) ? true : undefined,
    );
    expect(seen).toEqual(['add early', 'delete early', 'add after']);
    expect(i.healthy(1000)).toBe(true);
  });

  it('reports down while the API server is unreachable, through many retries, and recovers', async () => {
    const namespace = await uniqueNamespace('informer-down');
    const core = kubeClient().makeApiClient(CoreV1Api);
    proxy = await startTcpProxy(kubeconfigPath());
    const i = startInformer<V1ConfigMap>(proxy.kubeConfig, {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      labelSelector: `${LABEL}=yes`,
      backoff: { initialMs: 100, maxMs: 300 },
    });
    informer = i;
    expect(await i.waitForSync(10_000)).toBe(true);
    const staleAfterMs = 1_500; // well beyond the first back-off: the guard must outlive retries
    expect(i.healthy(staleAfterMs)).toBe(true);

    await proxy.cut();
    await core.createNamespacedConfigMap({ namespace, body: configMap(namespace, 'during', 'x') });
    await eventually('the informer to notice', async () => (i.downSince() ? true : undefined));
    const downAt = i.downSince();
    await new Promise((r) => setTimeout(r, staleAfterMs + 500));
    expect(i.downSince()).toBe(downAt);
    expect(i.healthy(staleAfterMs)).toBe(false);
    expect(i.get(`${namespace}/during`)).toBeUndefined();

    await proxy.restore();
    await eventually('recovery', async () => (i.healthy(staleAfterMs) ? true : undefined));
    await eventually('the object made during the outage', async () =>
      i.get(`${namespace}/during`) ? true : undefined,
    );
  });
});
