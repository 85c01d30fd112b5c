import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.ts';
import { watchTrustedKeys, type TrustSource } from './trust-source.ts';
import { PooledKubeConfig } from './kubeconfig.ts';

const spki = generateKeyPairSync('ed25519')
  .publicKey.export({ format: 'der', type: 'spki' })
  .toString('base64');
const secret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name: 'keys',
    namespace: 'ops',
    uid: 'u1',
    resourceVersion: '1',
    labels: { 'genome.mathison.io/trusted-keys': 'true' },
  },
  data: { alice: Buffer.from(spki).toString('base64') },
};

/**
 * A stand-in API server for the watch protocol only (list, then watch): enough to make the
 * watch fail the way a restarting API server does, which a real one cannot be made to do here.
 */
function fakeApiServer(
  watch: (attempt: number, res: ServerResponse) => void,
): Promise<{ server: Server; kc: KubeConfig }> {
  let watches = 0;
  const server = createServer((req, res) => {
    if (req.url?.includes('watch=true')) {
      watches += 1;
      watch(watches, res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'SecretList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '1' },
        items: [secret],
      }),
    );
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const kc = new PooledKubeConfig();
      const port = (server.address() as AddressInfo).port;
      kc.loadFromOptions({
        clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
        currentContext: 'fake',
      });
      resolve({ server, kc });
    });
  });
}

async function eventually(probe: () => boolean, ms = 8000): Promise<void> {
  for (const deadline = Date.now() + ms; !probe();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('watchTrustedKeys', () => {
  it('still drops a revoked key after the watch fails once (it reconnects)', async () => {
    const { server, kc } = await fakeApiServer((attempt, res) => {
      if (attempt === 1) {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(
        `${JSON.stringify({ type: 'DELETED', object: { ...secret, metadata: { ...secret.metadata, resourceVersion: '2' } } })}\n`,
      );
    });
    const source: TrustSource = await watchTrustedKeys(kc, 'ops', silentLogger);
    cleanup = async () => {
      await source.stop();
      server.closeAllConnections();
      server.close();
    };
    expect(source.keys().map((k) => k.keyId)).toEqual(['alice']);
    await eventually(() => source.keys().length === 0);
    expect(source.synced()).toBe(true);
  });

  it('is not synced when the first list fails', async () => {
    const server = createServer((_req, res) => res.writeHead(403).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const kc = new PooledKubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'f',
          server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'f', cluster: 'f', user: 'u' }],
      currentContext: 'f',
    });
    const source = await watchTrustedKeys(kc, 'ops', silentLogger, { syncTimeoutMs: 300 });
    cleanup = async () => {
      await source.stop();
      server.close();
    };
    expect(source.synced()).toBe(false);
    expect(source.keys()).toEqual([]);
  });

  it('stops counting as synced while the watch stays down, so /readyz fails', async () => {
    const { server, kc } = await fakeApiServer((_attempt, res) => res.writeHead(500).end());
    // Longer than the first back-off (500 ms): the guard must survive the retries, not only
    // the gap before the first one.
    const source = await watchTrustedKeys(kc, 'ops', silentLogger, { staleAfterMs: 2_000 });
    cleanup = async () => {
      await source.stop();
      server.close();
    };
    await eventually(() => !source.synced(), 10_000);
  });

  it('notices a watch that went silent (open but delivering nothing) within its bound, and says so', async () => {
    // Half-open: the watch is answered, then nothing more ever comes, not even its end.
    const { server, kc } = await fakeApiServer((_attempt, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    });
    const source = await watchTrustedKeys(kc, 'ops', silentLogger, {
      watchTimeoutSeconds: 1,
      stallAfterMs: 1_500,
      staleAfterMs: 500,
    });
    let told = 0;
    source.onChange(() => told++);
    cleanup = async () => {
      await source.stop();
      server.closeAllConnections();
      server.close();
    };
    expect(source.synced()).toBe(true);
    const started = Date.now();
    // Each stall is followed by a list that succeeds here (the fake answers lists), so the keys
    // turn stale once a back-off outlasts staleAfterMs: seconds, where it took 150 s.
    await eventually(() => !source.synced(), 12_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(source.staleSince()).toBeDefined();
    await eventually(() => told > 0, 2_000);
  });

  it('tells both edges of a stale spell shorter than any polling period', async () => {
    // Every watch fails; each failure waits 900 ms (fixed back-off) before a list that
    // succeeds, so the keys are stale for about 400 ms of every 900 (staleAfterMs 500).
    const { server, kc } = await fakeApiServer((_attempt, res) => res.writeHead(500).end());
    const source = await watchTrustedKeys(kc, 'ops', silentLogger, {
      staleAfterMs: 500,
      backoff: { initialMs: 900, maxMs: 900, random: () => 1 },
    });
    const seen: boolean[] = [];
    source.onChange(() => seen.push(source.synced()));
    cleanup = async () => {
      await source.stop();
      server.close();
    };
    await eventually(
      () => seen.includes(false) && seen.lastIndexOf(true) > seen.indexOf(false),
      5_000,
    );
  });

  it('stays current through quiet watches that end at their timeout, without listing again', async () => {
    let lists = 0;
    const { server, kc } = await fakeApiServer((_attempt, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      setTimeout(() => res.end(), 1_000);
    });
    server.on('request', (req) => {
      if (!req.url?.includes('watch=true')) lists++;
    });
    const source = await watchTrustedKeys(kc, 'ops', silentLogger, {
      watchTimeoutSeconds: 1,
      stallAfterMs: 1_500,
      staleAfterMs: 500,
    });
    cleanup = async () => {
      await source.stop();
      server.closeAllConnections();
      server.close();
    };
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 250));
      expect(source.synced()).toBe(true);
    }
    expect(source.staleSince()).toBeUndefined();
    expect(lists).toBe(1);
  });
});
