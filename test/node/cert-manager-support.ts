// A real cert-manager for the node tests: the controllers and CA injector of
// cluster/cert-manager/main.go, built by scripts/build-cert-manager.sh from cert-manager's
// published Go module, run as two processes against the test cluster, with the CRDs of the same
// module version. Also the two moves the test makes on Certificates, as cmctl makes them.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  spawnLogged,
  stopProcesses,
  tailLog,
  type SpawnedProcess,
} from '../../cluster/processes.ts';
import { eventually, kubeconfigPath, kubectl } from '../support/cluster.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BUILD = join(ROOT, 'scripts', 'build-cert-manager.sh');

/** The build's directory (bin/cert-manager, crds/), or why there can be none on this machine. */
export type CertManagerBuild = { dir: string; seconds: number } | { unavailable: string };

/**
 * Builds cert-manager (a cache hit returns at once). Only a machine without Go gives a reason
 * to skip; any other failure of the build is an error.
 */
export function buildCertManager(): CertManagerBuild {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  const check = spawnSync('bash', [BUILD, '--check'], { encoding: 'utf8' });
  if (check.status !== 0 && go.status !== 0)
    return { unavailable: 'cert-manager is not built and there is no `go` to build it with' };
  const started = Date.now();
  const out = spawnSync('bash', [BUILD, '--print-dir'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`scripts/build-cert-manager.sh failed:\n${out.stderr}`);
  return { dir: out.stdout.trim(), seconds: (Date.now() - started) / 1000 };
}

/** The cert-manager controller and CA injector, running; stop() ends both. */
export interface RunningCertManager {
  processes: SpawnedProcess[];
  logDir: string;
  stop: () => Promise<void>;
  logs: () => string;
}

/** Applies cert-manager's CRDs (server-side: they are large) and waits until they are served. */
export async function installCertManagerCrds(dir: string): Promise<string[]> {
  const files = readdirSync(join(dir, 'crds')).map((f) => join(dir, 'crds', f));
  await kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', f])]);
  const names = files.map((f) => /cert-manager\.io_(\w+)\.yaml$/.exec(f)![1] + '.cert-manager.io');
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...names.map((n) => `crd/${n}`),
  ]);
  return names;
}

/**
 * Starts `cert-manager controller` and `cert-manager cainjector` against the test cluster;
 * `cainjectorGates` are cert-manager feature gates for the CA injector (e.g. CAInjectorMerging=false).
 */
export function startCertManager(dir: string, cainjectorGates: string[] = []): RunningCertManager {
  const logDir = mkdtempSync(join(tmpdir(), 'genome-cert-manager-'));
  const binary = join(dir, 'bin', 'cert-manager');
  // Named as the binary: stopProcesses stops only a pid whose argv[0] still has that name.
  const processes = ['controller', 'cainjector'].map((role) =>
    spawnLogged(
      'cert-manager',
      binary,
      [
        ...[role, '--kubeconfig', kubeconfigPath(), '--v', '2'],
        ...(role === 'cainjector' && cainjectorGates.length > 0
          ? ['--feature-gates', cainjectorGates.join(',')]
          : []),
      ],
      join(logDir, `${role}.log`),
    ),
  );
  return {
    processes,
    logDir,
    logs: () => processes.map((p) => `--- ${p.logPath}\n${tailLog(p.logPath, 60)}`).join('\n'),
    stop: async () => {
      await stopProcesses(processes);
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** What the test reads of a Certificate. */
export interface CertificateState {
  revision: number;
  ready: boolean;
  issuing: boolean;
}

/** A Certificate's revision and its Ready and Issuing conditions. */
export async function certificateState(ns: string, name: string): Promise<CertificateState> {
  const out = await kubectl([...['get', 'certificate', name, '-n', ns, '-o', 'json']]);
  const cert = JSON.parse(out.stdout) as {
    status?: { revision?: number; conditions?: { type: string; status: string }[] };
  };
  const condition = (type: string) =>
    cert.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
  return {
    revision: cert.status?.revision ?? 0,
    ready: condition('Ready'),
    issuing: condition('Issuing'),
  };
}

/**
 * Asks cert-manager to issue the Certificate again now, as `cmctl renew` does: an Issuing
 * condition (reason ManuallyTriggered) added to its status.
 */
export async function triggerRenewal(ns: string, name: string): Promise<void> {
  const condition = {
    type: 'Issuing',
    status: 'True',
    reason: 'ManuallyTriggered',
    message: 'Certificate re-issuance manually triggered',
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  await kubectl([
    ...['patch', 'certificate', name, '-n', ns, '--subresource=status', '--type=json'],
    ...['-p', JSON.stringify([{ op: 'add', path: '/status/conditions/-', value: condition }])],
  ]);
}

/** Waits until the Certificate is Ready at a revision above `after`; returns the new revision. */
export async function waitForRevision(ns: string, name: string, after: number): Promise<number> {
  return eventually(
    `Certificate ${ns}/${name} Ready at a revision above ${after}`,
    async () => {
      const state = await certificateState(ns, name);
      return state.ready && !state.issuing && state.revision > after ? state.revision : undefined;
    },
    120_000,
  );
}

/** The certificate of a kubernetes.io/tls Secret (tls.crt, or `key`). */
export async function secretCertificate(
  ns: string,
  name: string,
  key = 'tls.crt',
): Promise<X509Certificate> {
  const out = await kubectl([
    ...['get', 'secret', name, '-n', ns, '-o', `jsonpath={.data.${key.replace('.', '\\.')}}`],
  ]);
  return new X509Certificate(Buffer.from(out.stdout, 'base64'));
}

/** The caBundle cainjector wrote into a webhook configuration ('' when none yet). */
export async function injectedBundle(kind: string, name: string): Promise<string> {
  const out = await kubectl([
    ...['get', kind, name, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'],
  ]);
  return Buffer.from(out.stdout, 'base64').toString('utf8');
}

/** The public key of a certificate, to compare a renewed CA with the one before. */
export const publicKeyOf = (cert: X509Certificate): string =>
  cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
