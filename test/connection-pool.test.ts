import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startInformer } from '../kube/informer.ts';
import { kubeconfigPath, uniqueNamespace } from './support/cluster.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

/** Connections the API server sees, counted by a relay in front of it. */
describe('one connection pool for the API calls (kube/kubeconfig.ts), against the real API server', () => {
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('sends sequential and concurrent calls and a watch over a connection or two, and recovers after a cut', async () => {
    const namespace = await uniqueNamespace('pool');
    proxy = await startTcpProxy(kubeconfigPath());
    const kc = proxy.kubeConfig; // a PooledKubeConfig
    const core = kc.makeApiClient(CoreV1Api);
    const informer = startInformer<V1ConfigMap>(kc, {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
    });
    try {
      expect(await informer.waitForSync(10_000)).toBe(true);
      for (let i = 0; i < 20; i++) {
        await core.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name: `cm-${i}` }, data: { i: String(i) } },
        });
      }
      await Promise.all(
        Array.from({ length: 20 }, () => core.listNamespacedConfigMap({ namespace })),
      );
      expect(proxy.accepted()).toBeLessThanOrEqual(3);

      // The relay drops every connection; once the client has seen them close (a request sent
      // in the same instant fails once, as in any pooled client; callers retry), calls go
      // over a new one.
      await proxy.cut();
      await new Promise((r) => setTimeout(r, 300));
      await proxy.restore();
      const before = proxy.accepted();
      const list = await core.listNamespacedConfigMap({ namespace });
      expect(list.items.filter((c) => c.metadata?.name?.startsWith('cm-'))).toHaveLength(20);
      for (let i = 0; i < 10; i++) await core.readNamespacedConfigMap({ name: 'cm-0', namespace });
      expect(proxy.accepted() - before).toBeLessThanOrEqual(3);
    } finally {
      await informer.stop();
    }
  });

  it('is what client-node alone does not do: it opens a connection per call', async () => {
    const namespace = await uniqueNamespace('pool-plain');
    proxy = await startTcpProxy(kubeconfigPath());
    // eslint-disable-next-line no-restricted-syntax -- the unpooled client, to show what the pool changes
    const plain = new KubeConfig();
    plain.loadFromString(proxy.kubeConfig.exportConfig());
    const core = plain.makeApiClient(CoreV1Api);
    for (let i = 0; i < 10; i++) await core.listNamespacedConfigMap({ namespace });
    expect(proxy.accepted()).toBeGreaterThanOrEqual(10);
  });
});
