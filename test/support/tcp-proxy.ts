import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../../kube/kubeconfig.ts';

/** A loopback TCP relay in front of the API server that a test can cut and restore. */
export interface TcpProxy {
  /** The same credentials, with this relay as the server. */
  kubeConfig: KubeConfig;
  /** Closes the listener and every relayed connection: the API server is unreachable. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /**
   * Goes silent: every connection, open or new, stays open and relays nothing (a half-open
   * network: no error, no close). `restore()` afterwards resets them all, as a healed
   * network's dead connections are, and relays again.
   */
  silence(): void;
  close(): Promise<void>;
  /** How many connections the relay has accepted so far. */
  accepted(): number;
}

/** Starts a relay on 127.0.0.1 to the server of the kubeconfig file (TLS passes through). */
export async function startTcpProxy(kubeconfigFile: string): Promise<TcpProxy> {
  const kc = new PooledKubeConfig();
  kc.loadFromFile(kubeconfigFile);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const target = new URL(cluster.server);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let accepted = 0;
  let silent = false;
  const listen = async () => {
    silent = false;
    server = createServer((client) => {
      accepted += 1;
      if (silent) {
        sockets.add(client);
        client.on('close', () => sockets.delete(client));
        client.on('error', () => client.destroy());
        client.pause();
        return;
      }
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
    server = undefined;
  };
  await listen();
  const kubeConfig = new PooledKubeConfig();
  kubeConfig.loadFromFile(kubeconfigFile);
  const current = kubeConfig.getCurrentCluster();
  kubeConfig.clusters = kubeConfig.clusters.map((c) =>
    c.name === current?.name ? { ...c, server: `https://127.0.0.1:${port}` } : c,
  );
  return {
    kubeConfig,
    cut,
    restore: async () => {
      if (silent) await cut();
      await listen();
    },
    silence: () => {
      silent = true;
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    close: async () => {
      if (server) await cut();
    },
    accepted: () => accepted,
  };
}
