import { spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinDir } from './binaries.ts';
import { writeCredentials, writeKubeconfig, type CredentialFiles } from './credentials.ts';
import { pickFreePorts } from './ports.ts';
import {
  signalAll,
  spawnLogged,
  startReaper,
  stopProcesses,
  tailLog,
  type ManagedProcess,
  type SpawnedProcess,
} from './processes.ts';
import { hasDefaultServiceAccount, isClusterReady, loadKubeConfig } from './readiness.ts';

/** How to start a control plane. */
export interface ControlPlaneOptions {
  /** State directory (certificates, etcd data, logs); a fresh temp dir, removed by stop(), when omitted. */
  dir?: string;
  /** Where the binaries are; found with findBinDir() when omitted. */
  binDir?: string;
  /** Leave the processes running after this Node process exits (make cluster-up); stop() still works. */
  detached?: boolean;
  /** How long to wait for /readyz and the controllers (default 60 s). */
  readyTimeoutMs?: number;
  /** Where progress lines go (default stderr). */
  log?: (line: string) => void;
  /** Serve on a routable address instead of loopback, so pods can reach the API server (the node mode). */
  network?: ControlPlaneNetwork;
  /**
   * A command that removes what the caller made beside the control plane (a node's cgroups and
   * network). It runs after every process has stopped: on stop(), on exit and in the watchdog.
   */
  cleanupCommand?: string[];
  /** etcd's --quota-backend-bytes (default etcd's 2 GiB): benchmarks that store gigabytes. */
  etcdQuotaBytes?: number;
}

/** Where a control plane serves when pods must reach it: the address it binds and advertises. */
export interface ControlPlaneNetwork {
  address: string;
  serviceCidr: string;
  /** The `kubernetes` Service's ClusterIP (the first address of serviceCidr). */
  kubernetesServiceIp: string;
}

/** A running control plane: an etcd, a kube-apiserver and a kube-controller-manager on loopback. */
export interface ControlPlane {
  kubeconfigPath: string;
  serverUrl: string;
  dir: string;
  files: CredentialFiles;
  processes: ManagedProcess[];
  /** Puts more processes (a node's) under this control plane's clean-up; they stop first. */
  adopt(procs: SpawnedProcess[]): void;
  /** Stops every process (SIGTERM, then SIGKILL), waits for them to exit and removes a temp dir. */
  stop(): Promise<void>;
  /** Stops the kube-apiserver and starts it again on the same port; resolves once it is ready. */
  restartApiServer(): Promise<void>;
}

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
}

interface Layout {
  binDir: string;
  dir: string;
  files: CredentialFiles;
  kubeconfigPath: string;
  network?: ControlPlaneNetwork;
  etcdQuotaBytes?: number;
}

interface Tracker {
  add(procs: SpawnedProcess[]): void;
  live(): ManagedProcess[];
  detach(): void;
  stop(): Promise<void>;
  killNow(): void;
}

/** The issuer of service-account tokens, as in a kubeadm cluster. */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
const PORT_ATTEMPTS = 3;
const attached = new Set<Tracker>();
let hooksInstalled = false;

/** Starts etcd, kube-apiserver and kube-controller-manager on free loopback ports; resolves once ready. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const began = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`[control-plane] ${line}\n`));
  const binDir = options.binDir ?? findBinDir();
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'genome-cp-'));
  mkdirSync(dir, { recursive: true });
  const tracker = track(dir, ownsDir, options.cleanupCommand);
  try {
    const network = options.network;
    const files = await writeCredentials(
      dir,
      network ? [network.address, network.kubernetesServiceIp] : [],
    );
    const layout: Layout = {
      binDir,
      dir,
      files,
      network,
      kubeconfigPath: join(dir, 'kubeconfig'),
      etcdQuotaBytes: options.etcdQuotaBytes,
    };
    const { serverUrl, ports } = await launchWithRetries(
      layout,
      tracker,
      options.readyTimeoutMs ?? 60_000,
    );
    if (options.detached) tracker.detach();
    log(
      `ready in ${((performance.now() - began) / 1000).toFixed(1)}s at ${serverUrl} (state in ${dir})`,
    );
    return {
      kubeconfigPath: layout.kubeconfigPath,
      serverUrl,
      dir,
      files,
      processes: tracker.live(),
      adopt: tracker.add,
      stop: tracker.stop,
      restartApiServer: () => restartApiServer(layout, ports, tracker),
    };
  } catch (err) {
    await tracker.stop();
    throw err;
  }
}

/** Registers started processes for clean-up on stop(), on exit and on SIGINT/SIGTERM. */
function track(dir: string, ownsDir: boolean, cleanupCommand?: string[]): Tracker {
  installExitHooks();
  const pidsFile = join(dir, 'pids');
  writeFileSync(pidsFile, '');
  const processes: SpawnedProcess[] = [];
  // Only a SIGKILL of this process escapes the exit hooks; the reaper covers that case.
  const reaper: ChildProcess = startReaper(process.pid, pidsFile, {
    removeDir: ownsDir ? dir : undefined,
    cleanupCommand,
  });
  const cleanUp = () => cleanupCommand && runCleanup(cleanupCommand);
  const removeDir = () => ownsDir && rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  let stopping: Promise<void> | undefined;
  const tracker: Tracker = {
    add: (procs) => {
      for (const p of procs) appendFileSync(pidsFile, `${p.pid}\n`);
      processes.push(...procs);
    },
    live: () =>
      processes.filter((p) => !p.exit).map(({ name, pid, logPath }) => ({ name, pid, logPath })),
    detach: () => {
      attached.delete(tracker);
      reaper.kill('SIGKILL');
    },
    stop: () => {
      stopping ??= (async () => {
        attached.delete(tracker);
        try {
          await stopProcesses(processes);
        } finally {
          reaper.kill('SIGKILL');
          cleanUp();
          removeDir();
        }
      })();
      return stopping;
    },
    killNow: () => {
      signalAll(processes, 'SIGKILL');
      cleanUp();
      removeDir();
    },
  };
  attached.add(tracker);
  return tracker;
}

/** Runs a clean-up command to its end (synchronously: the exit hook cannot wait otherwise). */
function runCleanup(command: string[]): void {
  const [binary = 'true', ...args] = command;
  const result = spawnSync(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0)
    process.stderr.write(
      `[control-plane] clean-up ${command.join(' ')} failed: ${result.stderr}\n`,
    );
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: no grace period, just SIGKILL.
  process.on('exit', () => attached.forEach((r) => r.killNow()));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  await Promise.allSettled([...attached].map((r) => r.stop()));
  // Keep the default behaviour (die by the signal) unless someone else also handles it.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

/** Launches the processes, picking new ports when one was taken between picking and binding. */
async function launchWithRetries(
  layout: Layout,
  tracker: Tracker,
  timeoutMs: number,
): Promise<{ serverUrl: string; ports: Ports }> {
  for (let attempt = 1; ; attempt++) {
    const [etcdClient = 0, etcdPeer = 0, apiserver = 0, controllerManager = 0] =
      await pickFreePorts(4);
    const ports: Ports = { etcdClient, etcdPeer, apiserver, controllerManager };
    const serverUrl = serverUrlFor(layout, ports.apiserver);
    writeKubeconfig(layout.kubeconfigPath, serverUrl, layout.files);
    rmSync(join(layout.dir, 'etcd'), { recursive: true, force: true });
    const launched = launch(layout, ports);
    tracker.add(launched);
    try {
      await waitUntilReady(layout.kubeconfigPath, launched, timeoutMs);
      return { serverUrl, ports };
    } catch (err) {
      await stopProcesses(launched);
      if (!(err instanceof StartError && err.portCollision && attempt < PORT_ATTEMPTS)) throw err;
    }
  }
}

/** Stops the running kube-apiserver (SIGTERM) and starts a new one with the same flags. */
async function restartApiServer(layout: Layout, ports: Ports, tracker: Tracker): Promise<void> {
  await stopProcesses(tracker.live().filter((p) => p.name === 'kube-apiserver'));
  const name = 'kube-apiserver';
  const log = join(layout.dir, `${name}.log`);
  const proc = spawnLogged(name, join(layout.binDir, name), apiserverArgs(layout, ports), log);
  tracker.add([proc]);
  const kc = loadKubeConfig(layout.kubeconfigPath);
  const deadline = Date.now() + 60_000;
  while (!(await isClusterReady(kc, 1_000))) {
    if (proc.exit || Date.now() > deadline) throw new StartError(proc, 'did not come back');
    await sleep(100);
  }
}

function serverUrlFor(layout: Layout, port: number): string {
  return `https://${layout.network?.address ?? '127.0.0.1'}:${port}`;
}

function launch(layout: Layout, ports: Ports): SpawnedProcess[] {
  const start = (name: string, args: string[]) =>
    spawnLogged(name, join(layout.binDir, name), args, join(layout.dir, `${name}.log`));
  // All three start at once: the API server retries etcd, the controller manager waits for the API server.
  return [
    start('etcd', etcdArgs(layout, ports)),
    start('kube-apiserver', apiserverArgs(layout, ports)),
    start('kube-controller-manager', controllerManagerArgs(layout, ports)),
  ];
}

function etcdArgs(layout: Layout, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '--name=genome',
    `--data-dir=${join(layout.dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=genome=${peer}`,
    // Throw-away data: durability buys nothing here and fsync dominates start-up and write latency.
    '--unsafe-no-fsync',
    '--log-level=warn',
    ...(layout.etcdQuotaBytes ? [`--quota-backend-bytes=${layout.etcdQuotaBytes}`] : []),
  ];
}

function apiserverArgs(layout: Layout, ports: Ports): string[] {
  const { files, network } = layout;
  const address = network?.address ?? '127.0.0.1';
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    `--bind-address=${address}`,
    `--secure-port=${ports.apiserver}`,
    `--advertise-address=${address}`,
    // The endpoint reconciler refuses loopback addresses: without a node nothing in-cluster
    // dials the API server; with one, it advertises the veth address pods can route to.
    ...(network ? [] : ['--endpoint-reconciler-type=none']),
    `--kubelet-client-certificate=${files.kubeletClientCert}`,
    `--kubelet-client-key=${files.kubeletClientKey}`,
    `--kubelet-certificate-authority=${files.caCert}`,
    // The node's name resolves nowhere (and a lookup would leave the machine): dial its IP.
    '--kubelet-preferred-address-types=InternalIP',
    `--tls-cert-file=${files.servingCert}`,
    `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.caCert}`,
    '--authorization-mode=Node,RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${files.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${files.serviceAccountKey}`,
    `--service-cluster-ip-range=${network?.serviceCidr ?? SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
  ];
}

function controllerManagerArgs(layout: Layout, ports: Ports): string[] {
  const { files, kubeconfigPath } = layout;
  return [
    `--kubeconfig=${kubeconfigPath}`,
    '--leader-elect=false',
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${files.serviceAccountKey}`,
    `--root-ca-file=${files.caCert}`,
    `--cluster-signing-cert-file=${files.caCert}`,
    `--cluster-signing-key-file=${files.caKey}`,
    '--controllers=*',
    // Its default, /usr/libexec/kubernetes/kubelet-plugins/volume/exec, would be created on the host.
    `--flex-volume-plugin-dir=${join(layout.dir, 'flexvolume')}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    // The default client rate limit (20 qps) throttles creating each controller's service account
    // and token, which alone held the controllers back ~5 s after the API server was ready.
    '--kube-api-qps=500',
    '--kube-api-burst=1000',
  ];
}

/** A process died or never became ready; the message carries the end of its log. */
class StartError extends Error {
  readonly portCollision: boolean;

  constructor(proc: SpawnedProcess, what: string) {
    const tail = tailLog(proc.logPath);
    super(`${proc.name} ${what}; last lines of ${proc.logPath}:\n${tail}`);
    this.name = 'StartError';
    this.portCollision = /address already in use/i.test(tail);
  }
}

/** Waits until the API server is ready and the controllers run (the `default` ServiceAccount exists). */
async function waitUntilReady(
  kubeconfigPath: string,
  procs: SpawnedProcess[],
  timeoutMs: number,
): Promise<void> {
  const kc = loadKubeConfig(kubeconfigPath);
  const [, apiserver, controllerManager] = procs as [
    SpawnedProcess,
    SpawnedProcess,
    SpawnedProcess,
  ];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exit);
    if (dead)
      throw new StartError(
        dead,
        `exited (${dead.exit?.signal ?? `code ${dead.exit?.code}`}) while starting`,
      );
    const apiserverReady = await isClusterReady(kc, 1_000);
    if (apiserverReady && (await hasDefaultServiceAccount(kc))) return;
    if (Date.now() > deadline) {
      throw new StartError(
        apiserverReady ? controllerManager : apiserver,
        `not ready after ${timeoutMs / 1000}s`,
      );
    }
    await sleep(100);
  }
}
