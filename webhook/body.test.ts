import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ByteBudget,
  countContainers,
  DEFAULT_BODY_LIMITS,
  readBoundedBody,
  refuseBody,
} from './body.ts';

/** A server that reads each body with readBoundedBody and answers 200 with its length. */
async function serve(limit: number, budget: ByteBudget, waitMs: number) {
  const seen = { bytesRead: 0 };
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (seen.bytesRead += chunk.length));
    void readBoundedBody(req, res, { bytes: limit, containers: 10 }, { budget, waitMs }).then(
      (body) => {
        if (!Buffer.isBuffer(body)) return refuseBody(res, body);
        res.end(String(body.length));
      },
    );
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/**
 * Sends raw HTTP (Connection: close): the head, then each part after its delay; resolves the
 * whole answer once the server closes the connection.
 */
function raw(port: number, head: string, parts: [number, string][] = []): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer));
    socket.write(head);
    let at = 0;
    for (const [delay, text] of parts) {
      at += delay;
      setTimeout(() => !socket.destroyed && socket.write(text), at);
    }
  });
}

const head = (length: number | 'chunked') =>
  `POST /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${
    length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`
  }\r\n\r\n`;
const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`;

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

describe('readBoundedBody', () => {
  it('refuses a declared Content-Length over the limit with 413 before reading any of it', async () => {
    const { server, port, seen } = await serve(1000, new ByteBudget(10_000), 100);
    servers.push(server);
    const answer = await raw(port, head(5_000_000), [[10, 'x'.repeat(60_000)]]);
    expect(answer).toMatch(/^HTTP\/1.1 413 /);
    expect(answer).toMatch(/larger than this endpoint accepts \(1000 bytes\)/);
    expect(answer).toMatch(/Connection: close/i);
    expect(seen.bytesRead).toBe(0);
  });

  it('stops reading an undeclared (chunked) body as soon as it passes the limit', async () => {
    const { server, port, seen } = await serve(1000, new ByteBudget(10_000), 100);
    servers.push(server);
    const parts: [number, string][] = Array.from({ length: 50 }, () => [5, chunk('x'.repeat(400))]);
    const answer = await raw(port, head('chunked'), parts);
    expect(answer).toMatch(/^HTTP\/1.1 413 /);
    expect(seen.bytesRead).toBeLessThanOrEqual(1200);
  });

  it('reads a body within the limit and gives its bytes back once answered', async () => {
    const budget = new ByteBudget(10_000);
    const { server, port } = await serve(1000, budget, 100);
    servers.push(server);
    const answer = await raw(port, head(1000), [[0, 'y'.repeat(1000)]]);
    expect(answer).toMatch(/^HTTP\/1.1 200 [\s\S]*\r\n\r\n1000$/);
    expect(budget.held()).toBe(0);
  });

  it('makes a body wait while others hold the in-flight cap, and reads it when they are answered', async () => {
    const budget = new ByteBudget(1500);
    const { server, port } = await serve(1000, budget, 2_000);
    servers.push(server);
    // The first holds 900 bytes for 300 ms; the second needs 900 too, so it waits for that.
    const first = raw(port, head(1000), [
      [0, 'a'.repeat(900)],
      [300, 'a'.repeat(100)],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(budget.held()).toBe(900);
    const started = Date.now();
    const second = await raw(port, head(900), [[0, 'b'.repeat(900)]]);
    expect(second).toMatch(/^HTTP\/1.1 200 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(await first).toMatch(/^HTTP\/1.1 200 /);
    expect(budget.held()).toBe(0);
  });

  it('refuses with 503 a body that finds no room within the wait, and keeps the others', async () => {
    const budget = new ByteBudget(1500);
    const { server, port } = await serve(1000, budget, 100);
    servers.push(server);
    const stalled = raw(port, head(1000), [
      [0, 'a'.repeat(900)],
      [600, 'a'.repeat(100)],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    const refused = await raw(port, head(900), [[0, 'b'.repeat(900)]]);
    expect(refused).toMatch(/^HTTP\/1.1 503 /);
    expect(refused).toMatch(/Retry-After: 1/i);
    expect(await stalled).toMatch(/^HTTP\/1.1 200 /);
    expect(budget.held()).toBe(0);
  });

  it('gives a client’s bytes back when it goes away mid-body', async () => {
    const budget = new ByteBudget(10_000);
    const { server, port } = await serve(1000, budget, 100);
    servers.push(server);
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`${head(1000)}${'z'.repeat(500)}`);
        setTimeout(() => socket.destroy(), 50);
        setTimeout(resolve, 150);
      });
    });
    expect(budget.held()).toBe(0);
  });
});

describe('the in-flight budget when clients leave while waiting for room', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  it('gives back the room granted to a chunk whose client had gone (nothing leaks)', async () => {
    const budget = new ByteBudget(100);
    const { server, port } = await serve(1000, budget, 2_000);
    servers.push(server);
    const open = (body: string) =>
      new Promise<() => void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`${head(1000)}${body}`);
          resolve(() => socket.destroy());
        });
        socket.on('error', () => undefined);
      });
    // One client holds 90 of the 100 bytes; five more wait for room, then go away.
    const holder = await open('a'.repeat(90));
    await new Promise((r) => setTimeout(r, 50));
    const waiters = await Promise.all(Array.from({ length: 5 }, () => open('b'.repeat(20))));
    await new Promise((r) => setTimeout(r, 50));
    waiters.forEach((leave) => leave());
    await new Promise((r) => setTimeout(r, 50));
    holder();
    await new Promise((r) => setTimeout(r, 200));
    expect(budget.held()).toBe(0);
  });
});

describe('the count of objects and arrays, before any parse', () => {
  it('refuses a body within the byte limit that holds more objects and arrays than allowed', async () => {
    const { server, port } = await serve(1000, new ByteBudget(10_000), 100);
    servers.push(server);
    const body = `[${Array.from({ length: 11 }, () => '{}').join(',')}]`;
    const answer = await raw(port, head(body.length), [[0, body]]);
    expect(answer).toMatch(/^HTTP\/1.1 413 [\s\S]*more JSON objects and arrays .*\(10\)/);
    const fits = `[${Array.from({ length: 9 }, () => '{}').join(',')}]`;
    expect(await raw(port, head(fits.length), [[0, fits]])).toMatch(/^HTTP\/1.1 200 /);
  });

  it.each([
    ['objects and arrays', '{"a":[{},[]]}', 4],
    ['none inside strings, escaped quotes included', '{"a":"[{\\"[","b":"\\\\"}', 1],
    ['a malformed body all the same', '[[[[', 4],
  ])('counts %s', (_what, text, count) => {
    expect(countContainers(Buffer.from(text), 100)).toBe(count);
  });

  it('stops counting past the maximum', () => {
    expect(countContainers(Buffer.from('['.repeat(1000)), 10)).toBe(11);
  });
});

describe('DEFAULT_BODY_LIMITS', () => {
  it('bound each endpoint by what the API server can send, and hold about five of the largest', () => {
    const MiB = 1024 * 1024;
    expect(DEFAULT_BODY_LIMITS.validateGenome).toBe(3 * MiB + 64 * 1024);
    expect(DEFAULT_BODY_LIMITS.mutatePod).toBe(6 * MiB + 64 * 1024);
    expect(DEFAULT_BODY_LIMITS.inFlightBytes).toBe(32 * MiB);
  });
});
