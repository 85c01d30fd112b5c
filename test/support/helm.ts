import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { environmentWithoutProxies } from '../../cluster/processes.ts';
import { kubeconfigPath } from './cluster.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/**
 * The chart under test. GENOME_TEST_CHART points the tests at another copy (e.g. the chart of an
 * earlier commit, to see a new test fail there).
 */
export const CHART = process.env.GENOME_TEST_CHART ?? join(ROOT, 'charts', 'genome-operator');
/** The values that trust the repository's TEST key, for make dev and the tests only. */
export const DEV_VALUES = join(ROOT, 'charts', 'genome-operator', 'values-dev.yaml');

let binary: string | undefined;

/** The helm built by scripts/build-helm.sh (make helm); throws with what to do when it is missing. */
export function helmBinary(): string {
  if (binary) return binary;
  const check = spawnSync('bash', [join(ROOT, 'scripts', 'build-helm.sh'), '--check'], {
    encoding: 'utf8',
  });
  if (check.status !== 0)
    throw new Error(`helm is not built: run make helm (${check.stderr.trim()})`);
  binary = join(check.stdout.trim(), 'helm');
  return binary;
}

/** The outcome of one helm run. */
export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm against the test cluster (its own cache and config dirs under /tmp); never throws on exit codes. */
export async function helm(args: string[], input = ''): Promise<HelmResult> {
  return runHelm([...args, '--kubeconfig', kubeconfigPath()], input);
}

/**
 * Runs helm without any cluster (helm template, helm lint), e.g. from a unit test; never throws
 * on exit codes.
 */
export async function helmOffline(args: string[]): Promise<HelmResult> {
  return runHelm(args, '');
}

async function runHelm(args: string[], input: string): Promise<HelmResult> {
  const child = spawn(helmBinary(), args, {
    env: {
      ...environmentWithoutProxies(),
      HELM_CACHE_HOME: '/tmp/genome-helm/cache',
      HELM_CONFIG_HOME: '/tmp/genome-helm/config',
      HELM_DATA_HOME: '/tmp/genome-helm/data',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode ?? -1));
  });
  return { code, stdout, stderr };
}

/** A rendered Kubernetes object. */
export interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** `helm template` of the chart; rejects with helm's message when it fails. */
export async function template(
  release: string,
  namespace: string,
  args: string[] = [],
): Promise<Rendered[]> {
  return rendered(await helm(['template', release, CHART, '--namespace', namespace, ...args]));
}

/** `helm template` of the chart without a cluster (lookup finds nothing); rejects with helm's message when it fails. */
export async function templateOffline(
  release: string,
  namespace: string,
  args: string[] = [],
): Promise<Rendered[]> {
  return rendered(
    await helmOffline(['template', release, CHART, '--namespace', namespace, ...args]),
  );
}

function rendered(out: HelmResult): Rendered[] {
  if (out.code !== 0) throw new Error(`helm template failed: ${out.stderr}`);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as Rendered | null)
    .filter((o): o is Rendered => o !== null);
}

/** The one rendered object of `kind` (and `name`, when given). */
export function pick(objects: Rendered[], kind: string, name?: string): Rendered {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0]!;
}
