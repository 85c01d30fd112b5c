import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.ts';
import { keyPair } from './builders/index.ts';
import { TRUSTED_KEYS_LABEL } from '../core/trust.ts';
import { watchTrustedKeys, type TrustSource } from '../kube/trust-source.ts';
import {
  eventually,
  kubeClient,
  kubeconfigPath,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const trustSecret = (namespace: string, name: string, keys: Record<string, string>): V1Secret => ({
  metadata: { name, namespace, labels: { [TRUSTED_KEYS_LABEL]: 'true' } },
  stringData: keys,
});

async function eventsFor(
  namespace: string,
  reason: string,
): Promise<{ involvedObject: { name: string }; message: string }[]> {
  const out = await kubectl([
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    `reason=${reason}`,
    '-o',
    'json',
  ]);
  return JSON.parse(out.stdout).items;
}

let source: TrustSource | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await source?.stop();
  await proxy?.close();
  source = undefined;
  proxy = undefined;
});

describe('trusted keys from Secrets, against the API server', () => {
  it('refuses a key id two Secrets claim with different keys, with a Warning Event on each Secret', async () => {
    const namespace = await uniqueNamespace('trust-conflict');
    const core = kubeClient().makeApiClient(CoreV1Api);
    const [a, b, other] = [keyPair('shared-key'), keyPair('shared-key'), keyPair('other-key')];
    await core.createNamespacedSecret({
      namespace,
      body: trustSecret(namespace, 'team-a', { 'shared-key': a.publicKey }),
    });
    await core.createNamespacedSecret({
      namespace,
      body: trustSecret(namespace, 'team-b', {
        'shared-key': b.publicKey,
        'other-key': other.publicKey,
      }),
    });
    source = await watchTrustedKeys(kubeClient(), namespace, silentLogger);
    expect(source.synced()).toBe(true);
    expect(source.keys().map((k) => k.keyId)).toEqual(['other-key']);
    expect(source.problems()[0]?.origins.map((o) => o.name)).toEqual(['team-a', 'team-b']);
    const events = await eventually('an Event on each Secret', async () => {
      const items = await eventsFor(namespace, 'TrustedKeyInvalid');
      return items.length >= 2 ? items : undefined;
    });
    expect(events.map((e) => e.involvedObject.name).sort()).toEqual(['team-a', 'team-b']);
    expect(events[0]?.message).toMatch(
      /TRUST_KEY_INVALID: key id shared-key has different public keys/,
    );
    // One Event per Secret version, not one per rebuild.
    await new Promise((r) => setTimeout(r, 500));
    expect(await eventsFor(namespace, 'TrustedKeyInvalid')).toHaveLength(2);
  });

  it('stops counting as synced during an API-server outage longer than the threshold, and recovers', async () => {
    const namespace = await uniqueNamespace('trust-outage');
    const core = kubeClient().makeApiClient(CoreV1Api);
    const alice = keyPair('alice-key');
    await core.createNamespacedSecret({
      namespace,
      body: trustSecret(namespace, 'keys', { 'alice-key': alice.publicKey }),
    });
    proxy = await startTcpProxy(kubeconfigPath());
    const staleAfterMs = 2_000;
    source = await watchTrustedKeys(proxy.kubeConfig, namespace, silentLogger, {
      staleAfterMs,
      backoff: { initialMs: 200, maxMs: 400 },
    });
    expect(source.synced()).toBe(true);
    await proxy.cut();
    // The key is revoked while the webhook cannot see it.
    await core.deleteNamespacedSecret({ namespace, name: 'keys' });
    await new Promise((r) => setTimeout(r, staleAfterMs + 1_000));
    expect(source.synced()).toBe(false);
    await proxy.restore();
    await eventually('recovery', async () => (source?.synced() ? true : undefined));
    await eventually('the revoked key to go', async () =>
      source?.keys().length === 0 ? true : undefined,
    );
  });
});
