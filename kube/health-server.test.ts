import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { serveHealth, type HealthServer } from './health-server.ts';

describe('serveHealth', () => {
  const registry = new Registry();
  const verifications = new Counter({
    name: 'genome_verifications_total',
    help: 'Genome verifications by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  let reason: string | undefined = 'caches not synced';
  let server: HealthServer;
  const get = async (path: string, method = 'GET') => {
    server ??= await serveHealth({ notReady: () => reason, registry }, '127.0.0.1', 0);
    const res = await fetch(`http://127.0.0.1:${server.port}${path}`, { method });
    return { status: res.status, text: await res.text() };
  };
  afterAll(() => server?.close());

  it('healthz answers 200 while the process runs, ready or not', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, text: 'ok\n' });
  });

  it('readyz answers 503 with the reason until ready, then 200', async () => {
    expect(await get('/readyz')).toEqual({ status: 503, text: 'caches not synced\n' });
    reason = undefined;
    expect(await get('/readyz')).toEqual({ status: 200, text: 'ok\n' });
  });

  it('metrics serves the registry with its current values', async () => {
    verifications.inc({ result: 'GENOME_UNTRUSTED_SIGNER' });
    const { status, text } = await get('/metrics');
    expect(status).toBe(200);
    expect(text).toContain('# TYPE genome_verifications_total counter');
    expect(text).toContain('genome_verifications_total{result="GENOME_UNTRUSTED_SIGNER"} 1');
  });

  it('a query string is ignored; HEAD answers as GET does', async () => {
    expect((await get('/readyz?verbose')).status).toBe(200);
    expect((await get('/healthz', 'HEAD')).status).toBe(200);
  });

  it('another method is 405, an unknown path 404', async () => {
    expect((await get('/healthz', 'POST')).status).toBe(405);
    expect((await get('/nope')).status).toBe(404);
  });
});
