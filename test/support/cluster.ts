import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { kubectlBinary } from '../../cluster/binaries.ts';
import { environmentWithoutProxies } from '../../cluster/processes.ts';
import { GENOME_GROUP, GENOME_PLURAL } from '../../core/api.ts';
import { defaultTrustPolicy, TRUST_POLICY_PLURAL } from '../../core/trust-policy-schema.ts';
import { PooledKubeConfig } from '../../kube/kubeconfig.ts';

/** The outcome of one kubectl run. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for kubectl(): text for its stdin, and whether a non-zero exit is an answer rather than an error. */
export interface KubectlOptions {
  input?: string;
  allowFailure?: boolean;
}

/** The admin kubeconfig of the test cluster (provided by test/global-setup.ts). */
export function kubeconfigPath(): string {
  return inject('kubeconfig');
}

/** A client-node KubeConfig for the test cluster, as the admin. */
export function kubeClient(): KubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/** Runs kubectl (the built one, else the one on PATH) against the test cluster; rejects on failure unless allowFailure. */
export async function kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const child = spawn(kubectlBinary(), ['--kubeconfig', kubeconfigPath(), ...args], {
    env: environmentWithoutProxies(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(opts.input ?? '');
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode ?? -1));
  });
  if (code !== 0 && !opts.allowFailure) {
    throw new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  }
  return { code, stdout, stderr };
}

/** Creates a namespace named `<prefix>-<random>` and returns its name. */
export async function uniqueNamespace(prefix: string): Promise<string> {
  const safe = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 50)
    .replace(/^-+|-+$/g, '');
  const name = `${safe || 'test'}-${randomBytes(3).toString('hex')}`;
  await kubeClient()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } });
  return name;
}

/** Polls `probe` until it returns a value other than undefined; rejects with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs kubectl until it succeeds (another test file may be creating the same object). */
async function kubectlRetrying(args: string[], input?: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const out = await kubectl(args, { allowFailure: true, ...(input !== undefined && { input }) });
    if (out.code === 0) return;
    if (attempt >= 10)
      throw new Error(`kubectl ${args.join(' ')} exited ${out.code}: ${out.stderr.trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
}

/**
 * Applies the Genome CRD and the GenomeTrustPolicy CRD (beside it in crds/), waits until the
 * API server serves both, and applies the `default` policy that the chart and `make dev`
 * create, test keys allowed (the tests sign with the repository's TEST key). Idempotent, and
 * safe while other test files do the same against the same API server. Polls the condition
 * instead of `kubectl wait`, which fails at once ("<nil> is of the type <nil>") when it reads
 * the CRD before the API server has written any status.
 */
export async function installGenomeCrd(crdPath: string): Promise<void> {
  const policyCrdPath = join(dirname(crdPath), `${TRUST_POLICY_PLURAL}.${GENOME_GROUP}.yaml`);
  await kubectlRetrying(['apply', '-f', crdPath, '-f', policyCrdPath]);
  const jsonpath = '{range .items[*]}{.status.conditions[?(@.type=="Established")].status}{end}';
  await eventually(
    'the Genome and GenomeTrustPolicy CRDs to be Established',
    async () => {
      const got = await kubectl([
        ...['get', 'crd', `${GENOME_PLURAL}.${GENOME_GROUP}`],
        ...[`${TRUST_POLICY_PLURAL}.${GENOME_GROUP}`, '-o', `jsonpath=${jsonpath}`],
      ]);
      return got.stdout.trim() === 'TrueTrue' ? true : undefined;
    },
    30_000,
  );
  // Server-side apply: concurrent appliers converge on the same object instead of racing a create.
  await kubectlRetrying(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=genome-tests', '-f', '-'],
    JSON.stringify(defaultTrustPolicy({ allowTestKeys: true })),
  );
}
