import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { PooledKubeConfig } from './kubeconfig.ts';

/** A kubeconfig with TLS options (a CA), so client-node builds an undici Agent for it. */
function kubeconfigText(certData = 'Y2VydA=='): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'c',
        cluster: { server: 'https://127.0.0.1:1', 'certificate-authority-data': 'Y2E=' },
      },
    ],
    users: [{ name: 'u', user: { token: 't', 'client-certificate-data': certData } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
}

async function dispatcherOf(kc: KubeConfig) {
  const context = new RequestContext('https://127.0.0.1:1/api/v1/namespaces', HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getDispatcher();
}

describe('PooledKubeConfig', () => {
  it('sends every request through one Agent (client-node alone builds one per request)', async () => {
    // eslint-disable-next-line no-restricted-syntax -- the unpooled client, to show what the pool changes
    const plain = new KubeConfig();
    plain.loadFromString(kubeconfigText());
    const [a, b] = [await dispatcherOf(plain), await dispatcherOf(plain)];
    expect(a).toBeDefined();
    expect(a).not.toBe(b); // the behaviour this class exists for; if it changes, drop the class

    const pooled = new PooledKubeConfig();
    pooled.loadFromString(kubeconfigText());
    const first = await dispatcherOf(pooled);
    expect(first).toBeDefined();
    expect(await dispatcherOf(pooled)).toBe(first);
    const concurrent = await Promise.all([1, 2, 3].map(() => dispatcherOf(pooled)));
    expect(concurrent.every((d) => d === first)).toBe(true);
    await pooled.closeConnections();
  });

  it('takes a new Agent when the TLS material changes (a rotated client certificate)', async () => {
    const pooled = new PooledKubeConfig();
    pooled.loadFromString(kubeconfigText());
    const before = await dispatcherOf(pooled);
    pooled.loadFromString(kubeconfigText('cm90YXRlZA=='));
    const after = await dispatcherOf(pooled);
    expect(after).not.toBe(before);
    expect(await dispatcherOf(pooled)).toBe(after);
    await pooled.closeConnections();
  });
});
