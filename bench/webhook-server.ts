/**
 * The webhook app alone, for bench/webhook.bench.ts: the real createApp over HTTPS, with one
 * trusted key given in BENCH_TRUST (key id and base64 SPKI, "id:key") and a throwaway
 * certificate. Prints {"port", "ca"} as one JSON line once it listens.
 */
import { silentLogger } from '../core/log.ts';
import { parseTrustedKeys } from '../core/trust.ts';
import { DEFAULT_POLICY } from '../core/verify.ts';
import { createCertificateAuthority, issueCertificate } from '../tls/pki.ts';
import { createApp } from '../webhook/app.ts';
import { serveHttps, servingCertificate, type CertificateSource } from '../tls/serving.ts';

const [keyId = '', value = ''] = (process.env.BENCH_TRUST ?? '').split(':');
const keys = parseTrustedKeys([{ keyId, value, source: 'bench' }]).keys;
const ca = await createCertificateAuthority('bench-ca');
const leaf = await issueCertificate(ca, {
  commonName: 'bench',
  ipAddresses: ['127.0.0.1'],
  usage: 'server',
});
const cert = servingCertificate(leaf.cert, leaf.key);
const source: CertificateSource = {
  start: async () => {},
  current: () => cert,
  onChange: () => () => {},
  isValid: () => true,
  stop: () => {},
};
const app = createApp({
  trust: { keys: () => keys, synced: () => true },
  certificateValid: () => true,
  policy: DEFAULT_POLICY,
  log: silentLogger,
  maxBodyBytes: 16 * 1024 * 1024,
});
const serving = await serveHttps(app, source, { host: '127.0.0.1', port: 0 });
serving.server.keepAliveTimeout = 60_000;
process.stdout.write(`${JSON.stringify({ port: serving.port, ca: ca.cert })}\n`);
process.on('SIGTERM', () => void serving.close().then(() => process.exit(0)));
