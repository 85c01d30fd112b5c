import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { kubectlBinary } from '../../cluster/binaries.ts';
import { environmentWithoutProxies } from '../../cluster/processes.ts';
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

/**
 * Applies the Genome CRD and waits until the API server serves it. Polls the condition
 * instead of `kubectl wait`, which fails at once ("<nil> is of the type <nil>") when it reads
 * the CRD before the API server has written any status.
 */
export async function installGenomeCrd(crdPath: string): Promise<void> {
  await kubectl(['apply', '-f', crdPath]);
  const jsonpath = '{.status.conditions[?(@.type=="Established")].status}';
  await eventually(
    'the Genome CRD to be Established',
    async () => {
      const got = await kubectl([
        'get',
        'crd',
        'genomes.mathison.io',
        '-o',
        `jsonpath=${jsonpath}`,
      ]);
      return got.stdout.trim() === 'True' ? true : undefined;
    },
    30_000,
  );
}
