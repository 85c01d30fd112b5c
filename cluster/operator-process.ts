import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { environmentWithoutProxies } from './processes.ts';
import { loadKubeConfig } from './readiness.ts';

const ROOT = join(import.meta.dirname, '..');

/** The namespace that config/rbac/operator.yaml uses for the operator's own. */
const PLACEHOLDER_NAMESPACE = 'genome-system';

/**
 * The objects of config/rbac/operator.yaml for an operator in `namespace`: the namespaced
 * objects move there, and the cluster-wide ones get `-<namespace>` appended to their names,
 * so that several operators (tests, dev) can share one cluster.
 */
export function operatorRbac(namespace: string): Record<string, unknown>[] {
  const text = readFileSync(join(ROOT, 'config', 'rbac', 'operator.yaml'), 'utf8');
  const suffix = namespace === PLACEHOLDER_NAMESPACE ? '' : `-${namespace}`;
  return parseAllDocuments(text).map((doc) => {
    const object = doc.toJS() as {
      kind: string;
      metadata: { name: string; namespace?: string };
      roleRef?: { kind: string; name: string };
      subjects?: { namespace?: string }[];
    };
    if (object.metadata.namespace !== undefined) object.metadata.namespace = namespace;
    if (object.kind.startsWith('Cluster')) object.metadata.name += suffix;
    if (object.roleRef?.kind === 'ClusterRole') object.roleRef.name += suffix;
    for (const subject of object.subjects ?? []) subject.namespace = namespace;
    return object as unknown as Record<string, unknown>;
  });
}

/**
 * Writes a kubeconfig that authenticates with a service account token (as a pod would), to
 * the admin kubeconfig's cluster.
 */
export function writeTokenKubeconfig(adminKubeconfig: string, token: string, path: string): void {
  const admin = loadKubeConfig(adminKubeconfig);
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error(`${adminKubeconfig} has no current cluster`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'cluster',
        cluster: {
          server: cluster.server,
          ...(cluster.caFile && { 'certificate-authority': cluster.caFile }),
          ...(cluster.caData && { 'certificate-authority-data': cluster.caData }),
        },
      },
    ],
    users: [{ name: 'operator', user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: 'cluster', user: 'operator' } }],
    'current-context': 'operator',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
}

/** How to run the operator as its own process. */
export interface OperatorProcessOptions {
  kubeconfigPath: string;
  namespace: string;
  /** host:port of /healthz, /readyz and /metrics. */
  healthListen: string;
  identity?: string;
  /** Extra flags, e.g. --production=true. */
  args?: string[];
  /** Show its log on this terminal (make dev), or keep it for output() (tests). */
  showLog?: boolean;
  env?: Record<string, string>;
  /**
   * Run this esbuild bundle of cmd/operator.ts (images/bundle.sh) with plain node, as the
   * image does, instead of the TypeScript source under tsx's loader.
   */
  bundle?: string;
  /** Flags for node itself, e.g. --heapsnapshot-signal=SIGUSR2. */
  nodeArgs?: string[];
}

/** A running operator process. */
export interface OperatorProcess {
  pid: number;
  /** What it logged, when not shown on the terminal. */
  output(): string;
  /** The exit code, or null while it runs. */
  exitCode(): number | null;
  /** Resolves with the exit code (or the signal) once it has exited. */
  exited: Promise<number | string>;
  /** Sends a signal (SIGKILL for a crash) without waiting. */
  kill(signal: NodeJS.Signals): void;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the real operator as a separate process: node with tsx's loader (or its bundle), in one
 * process (the tsx CLI would put a second one under it, which a SIGKILL would leave running).
 */
export function spawnOperator(options: OperatorProcessOptions): OperatorProcess {
  const child = spawn(
    join(ROOT, 'node_modules', '.bin', 'node'),
    [
      ...(options.nodeArgs ?? []),
      ...(options.bundle === undefined
        ? ['--import', 'tsx', join(ROOT, 'cmd', 'operator.ts')]
        : [options.bundle]),
      ...(options.args ?? []),
    ],
    {
      cwd: ROOT,
      env: {
        ...environmentWithoutProxies(),
        KUBECONFIG: options.kubeconfigPath,
        GENOME_NAMESPACE: options.namespace,
        OPERATOR_HEALTH_LISTEN: options.healthListen,
        ...(options.identity && { POD_NAME: options.identity }),
        ...options.env,
      },
      stdio: ['ignore', options.showLog ? 'inherit' : 'pipe', options.showLog ? 'inherit' : 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    pid: child.pid ?? -1,
    output: () => output,
    exitCode: () => child.exitCode,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** GET a path of a local operator's health server: the HTTP status, or 0 when it does not answer. */
export async function operatorHealth(
  port: number,
  path: '/healthz' | '/readyz' | '/metrics',
): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(2_000),
    });
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}
