import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from './pki.ts';

const ca = await createCertificateAuthority('genome-test-ca');
const server = await issueCertificate(ca, {
  commonName: 'genome-webhook',
  dnsNames: ['localhost', 'genome-webhook.genome-system.svc'],
  ipAddresses: ['127.0.0.1'],
  usage: 'server',
});

/** Connects to a TLS server on loopback and resolves with whether the handshake was trusted. */
async function handshake(
  serverOptions: tls.TlsOptions,
  clientOptions: tls.ConnectionOptions,
): Promise<{ authorized: boolean; error?: string }> {
  const tlsServer = tls.createServer(serverOptions, (socket) => socket.end('hello'));
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const { port } = tlsServer.address() as AddressInfo;
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ...clientOptions }, () => {
        resolve({ authorized: socket.authorized });
        socket.end();
      });
      socket.on('error', (err) => resolve({ authorized: false, error: err.message }));
    });
  } finally {
    tlsServer.close();
  }
}

describe('pki', () => {
  it('creates a CA certificate that is self-signed and marked as a CA', () => {
    const caCert = new X509Certificate(ca.cert);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=genome-test-ca');
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.checkIssued(caCert)).toBe(true);
  });

  it('issues a certificate that verifies against the CA and not against another CA', async () => {
    const leaf = new X509Certificate(server.cert);
    const caCert = new X509Certificate(ca.cert);
    const other = new X509Certificate((await createCertificateAuthority('other')).cert);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.verify(other.publicKey)).toBe(false);
  });

  it('puts the DNS names and IP addresses in the subject alternative names', () => {
    const leaf = new X509Certificate(server.cert);
    expect(leaf.subjectAltName).toBe(
      'DNS:localhost, DNS:genome-webhook.genome-system.svc, IP Address:127.0.0.1',
    );
    expect(leaf.checkHost('genome-webhook.genome-system.svc')).toBe(
      'genome-webhook.genome-system.svc',
    );
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkHost('elsewhere.example')).toBeUndefined();
  });

  it('puts each organization in the subject, where Kubernetes reads groups', async () => {
    const client = await issueCertificate(ca, {
      commonName: 'admin',
      organizations: ['system:masters', 'genome:testers'],
      usage: 'client',
    });
    const subject = new X509Certificate(client.cert).subject.split('\n');
    expect(subject).toEqual(
      expect.arrayContaining(['CN=admin', 'O=system:masters', 'O=genome:testers']),
    );
  });

  it('honours the requested expiry', async () => {
    const notAfter = new Date('2030-01-02T03:04:05Z');
    const leaf = await issueCertificate(ca, { commonName: 'short', usage: 'client', notAfter });
    expect(new Date(new X509Certificate(leaf.cert).validTo).toISOString()).toBe(
      notAfter.toISOString(),
    );
  });

  it('serves TLS that a client trusting only the CA accepts, checking the host name', async () => {
    const result = await handshake(
      { cert: server.cert, key: server.key },
      { ca: ca.cert, servername: 'localhost' },
    );
    expect(result).toEqual({ authorized: true });
  });

  it('serves TLS that a client trusting another CA refuses', async () => {
    const other = await createCertificateAuthority('other');
    const result = await handshake(
      { cert: server.cert, key: server.key },
      { ca: other.cert, servername: 'localhost' },
    );
    expect(result.authorized).toBe(false);
    expect(result.error).toMatch(/certificate/i);
  });

  it('issues client certificates that a server requiring the CA accepts', async () => {
    const client = await issueCertificate(ca, { commonName: 'admin', usage: 'client' });
    const result = await handshake(
      {
        cert: server.cert,
        key: server.key,
        ca: ca.cert,
        requestCert: true,
        rejectUnauthorized: true,
      },
      { ca: ca.cert, servername: 'localhost', cert: client.cert, key: client.key },
    );
    expect(result).toEqual({ authorized: true });
  });
});
