/**
 * One server for bench/webhook.bench.ts, over HTTPS on the project's own serveHttps with a
 * throwaway certificate. BENCH_HANDLER=webhook (the default): the real createApp, with one
 * trusted key given in BENCH_TRUST (key id and base64 SPKI, "id:key"), the pod mutation with
 * one verified Genome in its cache (bench/pods.ts) and the JSON logger that main.ts uses,
 * writing to /dev/null. BENCH_HANDLER=noop: the same body read and
 * JSON.parse, then a fixed "allowed" reply: the floor under any admission.
 * BENCH_HANDLER=ceiling: the no-op plus one raw verification (see ceiling()). Prints
 * {"port", "ca"} as one JSON line once it listens.
 */
import { openSync, readFileSync, writeSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { canonicalBytes } from '../core/canonical.ts';
import { verifyEd25519 } from '../core/ed25519.ts';
import { batchedLines, jsonLogger } from '../core/log.ts';
import { parseTrustedKeys } from '../core/trust.ts';
import { DEFAULT_TRUST_POLICY } from '../core/trust-policy.ts';
import { DEFAULT_POLICY } from '../core/verify.ts';
import { createCertificateAuthority, issueCertificate } from '../tls/pki.ts';
import { createApp } from '../webhook/app.ts';
import { benchGenomeCache } from './pods.ts';
import { serveHttps, servingCertificate, type CertificateSource } from '../tls/serving.ts';

/** The one trusted key given in BENCH_TRUST. */
function benchKeys() {
  const [keyId = '', value = ''] = (process.env.BENCH_TRUST ?? '').split(':');
  return parseTrustedKeys([{ keyId, value, source: 'bench' }]).keys;
}

function webhook(): RequestListener {
  const keys = benchKeys();
  // As main.ts logs (lines batched per turn, core/log.ts), one writeSync a batch to /dev/null.
  const sink = openSync('/dev/null', 'w');
  const lines = batchedLines((text) => writeSync(sink, text));
  return createApp({
    trust: {
      keys: () => keys,
      policies: () => [DEFAULT_TRUST_POLICY],
      namespaceLabels: () => ({}),
      synced: () => true,
    },
    certificateValid: () => true,
    policy: DEFAULT_POLICY,
    log: jsonLogger(lines.write, { component: 'genome-webhook' }),
    // As main.ts builds it, with the informer's cache replaced by one holding the same object.
    pods: {
      ...benchGenomeCache(),
      injection: { image: 'genome.local/genome-operator:v1', imagePullPolicy: 'IfNotPresent' },
    },
  });
}

const ALLOWED = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: 'uid-1', allowed: true },
});

/** Sends the fixed "allowed" reply, as the webhook sends its replies (one write, a length). */
function allow(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(ALLOWED),
  });
  res.end(ALLOWED);
}

/** Reads a request's whole body, as the webhook does, and hands it on. */
function onBody(req: IncomingMessage, then: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => then(Buffer.concat(chunks)));
}

/** Reads the body, JSON.parses it, answers a fixed "allowed": everything but the decision. */
const noop: RequestListener = (req, res) => {
  onBody(req, (body) => {
    const review = JSON.parse(body.toString('utf8')) as { request?: unknown };
    if (review.request === undefined) {
      res.writeHead(400).end();
      return;
    }
    allow(res);
  });
};

/**
 * BENCH_HANDLER=ceiling: the no-op's work plus one raw verification of the request's canonical
 * bytes (for 1 MB also one canonical serialisation of the parsed genome): the composed ceiling
 * measured in one process. The bench writes what to verify for each body length to the file in
 * BENCH_CEILING (a JSON list of [body bytes, canonical bytes base64, signature base64,
 * serialise]); nothing is derived from the request but its length and its parsed genome.
 */
function ceiling(): RequestListener {
  const key = benchKeys()[0]!.key;
  const cases = new Map(
    (
      JSON.parse(readFileSync(process.env.BENCH_CEILING!, 'utf8')) as [
        number,
        string,
        string,
        boolean,
      ][]
    ).map(([bytes, message, sig, serialise]) => [
      bytes,
      { message: Buffer.from(message, 'base64'), sig: Buffer.from(sig, 'base64'), serialise },
    ]),
  );
  return (req, res) => {
    onBody(req, (body) => {
      const review = JSON.parse(body.toString('utf8')) as {
        request?: { object: { spec: { genome: object } } };
      };
      const work = cases.get(body.length);
      if (review.request === undefined || work === undefined) {
        res.writeHead(400).end();
        return;
      }
      const message = work.serialise
        ? canonicalBytes(review.request.object.spec.genome, true)
        : work.message;
      if (!verifyEd25519(key, message, work.sig)) {
        res.writeHead(403).end();
        return;
      }
      allow(res);
    });
  };
}

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
const handlers: Record<string, () => RequestListener> = { noop: () => noop, ceiling, webhook };
const app = (handlers[process.env.BENCH_HANDLER ?? 'webhook'] ?? webhook)();
const serving = await serveHttps(app, source, { host: '127.0.0.1', port: 0 });
serving.server.keepAliveTimeout = 60_000;
process.stdout.write(`${JSON.stringify({ port: serving.port, ca: ca.cert })}\n`);
process.on('SIGTERM', () => void serving.close().then(() => process.exit(0)));
