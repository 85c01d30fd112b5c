import { X509Certificate } from 'node:crypto';
import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate, type KeyPairPem } from './pki.ts';
import { serveHttps, type CertificateSource, type HttpsServing } from './serving.ts';
import { fileCertificateSource } from './file-source.ts';

const ca = await createCertificateAuthority('files-test-ca');
const issue = () =>
  issueCertificate(ca, { commonName: 'localhost', ipAddresses: ['127.0.0.1'], usage: 'server' });

/** Writes a pair the way the kubelet updates a Secret volume: a new directory and a symlink swap. */
async function publish(dir: string, pair: KeyPairPem, generation: number): Promise<void> {
  const data = join(dir, `..gen-${generation}`);
  await mkdir(data);
  await writeFile(join(data, 'tls.crt'), pair.cert);
  await writeFile(join(data, 'tls.key'), pair.key);
  await symlink(`..gen-${generation}`, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  if (generation === 1) {
    await symlink('..data/tls.crt', join(dir, 'tls.crt'));
    await symlink('..data/tls.key', join(dir, 'tls.key'));
  }
}

/** The serial number of the certificate a TLS server on loopback presents. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.cert }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.once('error', reject);
  });
}

const serialOf = (pair: KeyPairPem) => new X509Certificate(pair.cert);

describe('the files certificate source', () => {
  let source: CertificateSource | undefined;
  let serving: HttpsServing | undefined;
  afterEach(async () => {
    source?.stop();
    source = undefined;
    await serving?.close();
    serving = undefined;
  });

  it('serves the mounted pair and hot-reloads a replacement without a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-files-'));
    try {
      const first = await issue();
      await publish(dir, first, 1);
      source = fileCertificateSource({ dir, pollIntervalMs: 20 });
      await source.start();
      expect(source.isValid()).toBe(true);
      serving = await serveHttps((_req, res) => res.end('ok'), source);
      const before = await servedSerial(serving.port);
      expect(before).toBe(serialOf(first).serialNumber);

      const changes: string[] = [];
      source.onChange((cert) => changes.push(cert.certPem));
      const second = await issue();
      await publish(dir, second, 2);
      await expect.poll(() => servedSerial(serving!.port), { timeout: 5_000 }).not.toBe(before);
      expect(await servedSerial(serving.port)).toBe(serialOf(second).serialNumber);
      expect(changes).toEqual([second.cert]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the current certificate while the key does not match the new certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-files-'));
    try {
      const first = await issue();
      await writeFile(join(dir, 'tls.crt'), first.cert);
      await writeFile(join(dir, 'tls.key'), first.key);
      const warnings: string[] = [];
      source = fileCertificateSource({
        dir,
        pollIntervalMs: 20,
        logger: {
          debug: () => {},
          info: () => {},
          warn: (msg) => warnings.push(msg),
          error: () => {},
        },
      });
      await source.start();
      await writeFile(join(dir, 'tls.crt'), (await issue()).cert);
      await expect.poll(() => warnings.length, { timeout: 5_000 }).toBeGreaterThan(0);
      expect(source.current()?.certPem).toBe(first.cert);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('waits for the files to appear before resolving start()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-files-'));
    try {
      source = fileCertificateSource({ dir, pollIntervalMs: 20 });
      let started = false;
      const starting = source.start().then(() => (started = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(started).toBe(false);
      expect(source.isValid()).toBe(false);
      await publish(dir, await issue(), 1);
      await starting;
      expect(source.isValid()).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
