import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import type { RequestListener, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

/** A certificate the webhook serves, with its key (both PEM) and validity. */
export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** Where the webhook's serving certificate comes from, and how it tells the server it changed. */
export interface CertificateSource {
  /** Resolves once a usable certificate exists. */
  start(): Promise<void>;
  /** The certificate to serve now, if any. */
  current(): ServingCertificate | undefined;
  /** Calls `listener` with every new certificate; returns a function that stops the calls. */
  onChange(listener: (cert: ServingCertificate) => void): () => void;
  /** True when a certificate is present and `now` is within its validity (for /readyz). */
  isValid(now?: Date): boolean;
  /** Stops watching or rotating; the last certificate stays current. */
  stop(): void;
}

/** Parses a certificate and key, refusing a key that does not belong to the certificate. */
export function servingCertificate(certPem: string, keyPem: string): ServingCertificate {
  const cert = new X509Certificate(certPem);
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
    throw new Error('the private key does not match the certificate');
  }
  return { certPem, keyPem, notBefore: cert.validFromDate, notAfter: cert.validToDate };
}

/** True when `cert` is present and `now` lies within its validity. */
function isWithinValidity(cert: ServingCertificate | undefined, now: Date): boolean {
  return cert !== undefined && cert.notBefore <= now && now < cert.notAfter;
}

/** Keeps listeners and tells them about each new certificate; the shared half of every source. */
class CertificateListeners {
  private readonly listeners = new Set<(cert: ServingCertificate) => void>();

  /** Adds a listener; returns the function that removes it. */
  add(listener: (cert: ServingCertificate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls every listener with `cert`. */
  emit(cert: ServingCertificate): void {
    for (const listener of this.listeners) listener(cert);
  }
}

/**
 * The shared half of both sources: the current certificate, its listeners, and a check that
 * runs on a timer. A subclass says how to check, how often, and what time it is.
 */
export abstract class PeriodicCertificateSource implements CertificateSource {
  protected serving: ServingCertificate | undefined;
  protected readonly listeners = new CertificateListeners();
  protected stopped = false;
  private timer: NodeJS.Timeout | undefined;

  /** Looks once, and makes `serving` current (emitting to listeners) if it changed. */
  protected abstract check(): Promise<void>;
  /** How long between checks, in ms. */
  protected abstract intervalMs(): number;
  /** The time now (injectable for tests). */
  protected abstract now(): Date;

  async start(): Promise<void> {
    this.stopped = false;
    while (!this.serving) {
      await this.check();
      if (this.stopped) throw new Error('stopped before a certificate was available');
      if (!this.serving) await new Promise((resolve) => setTimeout(resolve, this.intervalMs()));
    }
    this.schedule();
  }

  current(): ServingCertificate | undefined {
    return this.serving;
  }

  onChange(listener: (cert: ServingCertificate) => void): () => void {
    return this.listeners.add(listener);
  }

  isValid(now: Date = this.now()): boolean {
    return isWithinValidity(this.serving, now);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check().then(() => this.schedule()), this.intervalMs());
    // The HTTPS server keeps the process alive; the check timer alone should not.
    this.timer.unref();
  }
}

/** Where serveHttps listens. */
export interface ListenOptions {
  host?: string;
  port?: number;
}

/** How `close` ends the connections that are open. */
export interface CloseOptions {
  /**
   * How long, in ms, to keep serving the connections that are open (each answer then says
   * `Connection: close`) before the server stops. 0 stops at once: idle keep-alive
   * connections are destroyed, and a client that had just written a request on one sees a
   * reset instead of an answer.
   */
  drainMs?: number;
}

/** A listening HTTPS server and how to stop it. */
export interface HttpsServing {
  server: https.Server;
  port: number;
  close(options?: CloseOptions): Promise<void>;
}

/** How many connections `server` has open. */
function openConnections(server: https.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );
}

/** Serves `app` over HTTPS with the source's certificate, swapping in each new one without a restart. */
export async function serveHttps(
  app: RequestListener,
  source: CertificateSource,
  { host = '127.0.0.1', port = 0 }: ListenOptions = {},
): Promise<HttpsServing> {
  const cert = source.current();
  if (!cert) throw new Error('no serving certificate yet: await source.start() first');
  let draining = false;
  /** Answers not begun yet: a drain that starts now makes them close their connection too. */
  const unanswered = new Set<ServerResponse>();
  const server = https.createServer(
    { cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' },
    (req, res) => {
      // While draining, every answer closes its connection: the client ends it after reading
      // the answer, so it never writes a request to a socket the server is closing.
      if (draining) res.setHeader('Connection', 'close');
      else {
        unanswered.add(res);
        res.once('close', () => unanswered.delete(res));
      }
      app(req, res);
    },
  );
  // New handshakes get the new certificate; open connections keep theirs, so nothing is dropped.
  const unsubscribe = source.onChange((next) =>
    server.setSecureContext({ cert: next.certPem, key: next.keyPem, minVersion: 'TLSv1.2' }),
  );
  server.listen(port, host);
  await once(server, 'listening');
  const close = async ({ drainMs = 0 }: CloseOptions = {}) => {
    unsubscribe();
    if (drainMs > 0) {
      draining = true;
      for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
      unanswered.clear();
      // Busy connections close after their next answer; idle ones at the keep-alive timeout,
      // as they would on any day. The listener stays open: a client still routed here (the
      // endpoint not yet removed) is answered rather than refused.
      const deadline = Date.now() + drainMs;
      while (Date.now() < deadline && (await openConnections(server)) > 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const closed = once(server, 'close');
    server.close();
    server.closeIdleConnections();
    await closed;
  };
  return { server, port: (server.address() as AddressInfo).port, close };
}
