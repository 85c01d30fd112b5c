import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';

/** Distinct free TCP ports on 127.0.0.1, found by binding port 0 and releasing it. */
export async function pickFreePorts(count: number): Promise<number[]> {
  // All listeners stay open until every port is known, so the kernel cannot hand one out twice.
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
