import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, silentLogger, type Logger } from '../core/log.ts';
import {
  PeriodicCertificateSource,
  servingCertificate,
  type CertificateSource,
} from './serving.ts';

/** Where the files source reads its certificate (a mounted kubernetes.io/tls Secret) and how often. */
export interface FileSourceOptions {
  dir: string;
  certFile?: string;
  keyFile?: string;
  /** How often to re-read the files (default 10 s; the kubelet refreshes Secret volumes every minute or so). */
  pollIntervalMs?: number;
  now?: () => Date;
  logger?: Logger;
}

/** A CertificateSource that serves tls.crt/tls.key from a directory and picks up replacements. */
export function fileCertificateSource(options: FileSourceOptions): CertificateSource {
  return new FileSource(options);
}

interface Pair {
  certPem: string;
  keyPem: string;
}

// Polling the contents rather than fs.watch: a Secret volume is updated by swapping a symlink,
// which inotify-based watching misses or reports against the old target.
class FileSource extends PeriodicCertificateSource {
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;

  constructor(private readonly options: FileSourceOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 10_000;
  }

  protected intervalMs(): number {
    return this.pollIntervalMs;
  }

  protected now(): Date {
    return this.options.now?.() ?? new Date();
  }

  protected async check(): Promise<void> {
    const dir = this.options.dir;
    try {
      const pair = await this.read();
      if (!pair || this.isCurrent(pair)) return;
      const cert = servingCertificate(pair.certPem, pair.keyPem);
      this.serving = cert;
      this.logger.info('tls certificate loaded from files', {
        dir,
        notAfter: cert.notAfter.toISOString(),
      });
      this.listeners.emit(cert);
    } catch (err) {
      // Also the moment between the certificate and the key being replaced: the next poll fixes it.
      this.logger.warn('tls files unusable; keeping the current certificate', {
        dir,
        error: errorMessage(err),
      });
    }
  }

  private async read(): Promise<Pair | undefined> {
    const { dir, certFile = 'tls.crt', keyFile = 'tls.key' } = this.options;
    try {
      const [certPem, keyPem] = await Promise.all([
        readFile(join(dir, certFile), 'utf8'),
        readFile(join(dir, keyFile), 'utf8'),
      ]);
      return { certPem, keyPem };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private isCurrent(pair: Pair): boolean {
    return pair.certPem === this.serving?.certPem && pair.keyPem === this.serving.keyPem;
  }
}
