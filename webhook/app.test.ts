import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLogger } from '../core/log.ts';
import { declaring, genome, keyPair, named, signedBy, trusted } from '../test/builders/index.ts';
import { DEFAULT_POLICY, SignatureCache } from '../core/verify.ts';
import { DEFAULT_TRUST_POLICY } from '../core/trust-policy.ts';
import { createApp } from './app.ts';

const alice = keyPair('alice');
const signatures = new SignatureCache();
const state = { synced: true, certificateValid: true };
/** The app's log lines, at the level warn (GENOME_LOG_LEVEL=warn). */
const logged: { level: string; msg: string; code?: string }[] = [];
let server: Server;
let base: string;

const review = (genome: unknown, apiVersion = 'admission.k8s.io/v1') => ({
  apiVersion,
  kind: 'AdmissionReview',
  request: {
    uid: 'u-1',
    kind: { group: 'mathison.io', version: 'v1alpha1', kind: 'Genome' },
    operation: 'CREATE',
    object: { metadata: { name: 'g' }, spec: { genome } },
  },
});
const post = (body: string) =>
  fetch(`${base}/validate-genome?timeout=5s`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });

beforeAll(async () => {
  const keys = trusted(alice);
  const app = createApp({
    trust: {
      keys: () => keys,
      policies: () => [DEFAULT_TRUST_POLICY],
      namespaceLabels: () => ({}),
      synced: () => state.synced,
    },
    certificateValid: () => state.certificateValid,
    policy: DEFAULT_POLICY,
    signatures,
    log: jsonLogger((line) => logged.push(JSON.parse(line)), {}, undefined, 'warn'),
    bodies: { validateGenome: 64 * 1024, mutatePod: 64 * 1024 },
  });
  server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('the webhook app', () => {
  it('answers an AdmissionReview with an AdmissionReview carrying the same uid', async () => {
    const res = await post(JSON.stringify(review(genome(signedBy(alice)))));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u-1', allowed: true },
    });
  });

  it('verifies no signature again when the same genome is admitted again', async () => {
    const body = JSON.stringify(review(genome(signedBy(alice), named('again'))));
    expect((await post(body)).status).toBe(200);
    const done = signatures.verifications;
    const again = (await (await post(body)).json()) as { response: { allowed: boolean } };
    expect(again.response.allowed).toBe(true);
    expect(signatures.verifications).toBe(done);
  });

  it.each([
    ['a body that is not JSON', '{"apiVersion":', 400, /not JSON/],
    [
      'an AdmissionReview of another API version',
      JSON.stringify(review({}, 'admission.k8s.io/v1beta1')),
      400,
      /only admission.k8s.io\/v1/,
    ],
    [
      'a review without a request',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      400,
      /request is missing/,
    ],
    [
      'a body over the limit',
      JSON.stringify(review('x'.repeat(100 * 1024))),
      413,
      /larger than this endpoint accepts/,
    ],
  ])('refuses %s with a clear status, and keeps serving', async (_name, body, status, message) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toMatch(message);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('is ready only when the trust view (keys, policies, namespaces) is current and the certificate is valid', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    state.synced = false;
    const notSynced = await fetch(`${base}/readyz`);
    expect([notSynced.status, await notSynced.text()]).toEqual([
      503,
      'trusted keys, trust policies or namespaces not loaded yet, or not current\n',
    ]);
    state.synced = true;
    state.certificateValid = false;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    state.certificateValid = true;
  });

  it('logs a refusal at warn (kept at GENOME_LOG_LEVEL=warn), an admission at info', async () => {
    logged.length = 0;
    const admitted = await post(JSON.stringify(review(genome(signedBy(alice), named('logged')))));
    expect(admitted.status).toBe(200);
    expect(logged).toEqual([]);
    const mallory = keyPair('mallory');
    const refused = await post(
      JSON.stringify(review(genome(declaring(mallory), signedBy(mallory), named('logged')))),
    );
    expect(((await refused.json()) as { response: { allowed: boolean } }).response.allowed).toBe(
      false,
    );
    expect(logged).toMatchObject([
      { level: 'warn', msg: 'genome refused', code: 'GENOME_UNTRUSTED_SIGNER' },
    ]);
  });

  it('answers 404 for other paths', async () => {
    expect((await fetch(`${base}/validate-pod`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});

describe('GET /metrics', () => {
  /** The value of genome_webhook_requests_total for one endpoint and result. */
  const requests = async (endpoint: string, result: string): Promise<number> => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(`genome_webhook_requests_total{endpoint="${endpoint}",result="${result}"} `),
      );
    return Number(line?.split(' ')[1] ?? NaN);
  };

  it('counts admission requests by endpoint and result, from zero', async () => {
    const before = {
      allowed: await requests('validate-genome', 'allowed'),
      refused: await requests('validate-genome', 'refused'),
      invalid: await requests('validate-genome', 'invalid'),
      pods: await requests('mutate-pod', 'allowed'),
    };
    expect(before.pods).toBe(0); // this app has no pod mutation: the series exists at 0
    await post(JSON.stringify(review(genome(signedBy(alice)))));
    await post(JSON.stringify(review(genome(declaring(alice))))); // unsigned: refused
    await post('{"apiVersion":');
    expect(await requests('validate-genome', 'allowed')).toBe(before.allowed + 1);
    expect(await requests('validate-genome', 'refused')).toBe(before.refused + 1);
    expect(await requests('validate-genome', 'invalid')).toBe(before.invalid + 1);
    expect(await requests('mutate-pod', 'allowed')).toBe(0);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('genome_webhook_process_resident_memory_bytes');
  });
});
