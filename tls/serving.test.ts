import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from './pki.ts';
import { serveHttps, servingCertificate, type CertificateSource } from './serving.ts';

const ca = await createCertificateAuthority('serving-test-ca');
const pair = await issueCertificate(ca, {
  commonName: 'localhost',
  ipAddresses: ['127.0.0.1'],
  usage: 'server',
});
const cert = servingCertificate(pair.cert, pair.key);
const fixedSource: CertificateSource = {
  start: () => Promise.resolve(),
  current: () => cert,
  onChange: () => () => undefined,
  isValid: () => true,
  stop: () => undefined,
};

/** The error code undici reports, from the error or its cause. */
function codeOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.cause?.code ?? e.code ?? String(err);
}

/**
 * Sixteen keep-alive clients that post without a pause, the way the API server calls a webhook
 * under load, while the server closes. A refused connection is safe (nothing was sent; the API
 * server's next connection goes to another endpoint); any other error is a request that was
 * written and never answered.
 */
async function closeUnderLoad(drainMs: number) {
  const serving = await serveHttps((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.end('{"allowed":true}'), Math.random() * 2));
  }, fixedSource);
  serving.server.keepAliveTimeout = 300;
  const pool = new Pool(`https://127.0.0.1:${serving.port}`, {
    connections: 16,
    connect: { ca: ca.cert },
  });
  let closing = false;
  let stopSending = false;
  let answeredWhileClosing = 0;
  const lost: string[] = [];
  const client = async () => {
    while (!stopSending) {
      try {
        const res = await pool.request({ method: 'POST', path: '/', body: 'x'.repeat(4_000) });
        await res.body.text();
        if (closing) answeredWhileClosing += 1;
      } catch (err) {
        if (codeOf(err) === 'ECONNREFUSED') break;
        lost.push(codeOf(err));
      }
    }
  };
  const clients = Array.from({ length: 16 }, client);
  await new Promise((resolve) => setTimeout(resolve, 200));
  closing = true;
  const closed = serving.close({ drainMs });
  // The API server moves to another endpoint soon after a pod starts draining.
  setTimeout(() => (stopSending = true), 200);
  await closed;
  stopSending = true;
  await Promise.all(clients);
  await pool.close();
  return { lost, answeredWhileClosing };
}

describe('serveHttps close', () => {
  it('with a drain, answers every request written on a keep-alive connection, under load', async () => {
    for (let round = 0; round < 5; round += 1) {
      const { lost, answeredWhileClosing } = await closeUnderLoad(5_000);
      expect(lost).toEqual([]);
      expect(answeredWhileClosing).toBeGreaterThan(0);
    }
  }, 60_000);

  it('stops once the clients have gone, before the drain time is up', async () => {
    const serving = await serveHttps((_req, res) => res.end('ok'), fixedSource);
    const pool = new Pool(`https://127.0.0.1:${serving.port}`, { connect: { ca: ca.cert } });
    const res = await pool.request({ method: 'GET', path: '/' });
    expect(await res.body.text()).toBe('ok');
    await pool.close();
    // A hang here would run into the test's timeout, well under the drain.
    await serving.close({ drainMs: 600_000 });
    expect(serving.server.listening).toBe(false);
  }, 10_000);
});
