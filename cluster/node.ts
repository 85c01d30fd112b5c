import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { issueCertificate } from '../tls/pki.ts';
import {
  ensureImageArchive,
  MATHISON_REFERENCE_IMAGE,
  PAUSE_IMAGE,
  PRODUCT_IMAGE,
  TEST_SERVER_IMAGE,
} from '../images/image-definitions.ts';
import { findNodeBinDir, tryFindNodeBinDir } from './node-binaries.ts';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane.ts';
import { writeKubeconfig, type KubeconfigUser } from './credentials.ts';
import { joinNodeCgroups } from './node-cgroups.ts';
import {
  cniConfig,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  NODE_NAME,
  nodePaths,
  type NodePaths,
} from './node-config.ts';
import { claimNodeHost, run, type NodeHost } from './node-host.ts';
import { pickFreePorts } from './ports.ts';
import { spawnLogged, tailLog, type SpawnedProcess } from './processes.ts';
import { loadKubeConfig } from './readiness.ts';

/** A control plane with a node: what the tests and make dev need to reach and inspect it. */
export interface NodeCluster extends ControlPlane {
  node: LocalNode;
}

/** The running node: its name, addresses, namespaces and files. */
export interface LocalNode {
  name: string;
  host: NodeHost;
  paths: NodePaths;
  /** The process that holds the node's network and mount namespaces (nsenter -t <pid> -n -m). */
  namespacePid: number;
  /** Runs ctr against the node's containerd; returns its stdout, throws on failure. */
  ctr(args: string[]): string;
}

/** Why a node cannot run here (not Linux, not root, binaries not built, tools missing), or undefined. */
export function nodeUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return `the node needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the node needs root (network namespaces, cgroups, mounts)';
  if (!tryFindNodeBinDir()) return 'the node binaries are not built: run `make node`';
  for (const tool of ['ip', 'unshare', 'nsenter', 'iptables-restore']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      return `the node needs ${tool} (make node installs Debian's iptables; iproute2 and util-linux give the rest)`;
  }
  return undefined;
}

const NODE_READY_TIMEOUT_MS = 120_000;
const SYSCTLS_KUBELET_WANTS = {
  'vm/overcommit_memory': '1',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
};

/**
 * Starts a control plane and one node beside it: containerd, kubelet and kube-proxy inside a
 * network and mount namespace of their own (reached through a veth), kube-scheduler on the
 * host. Resolves once the node is Ready; stop() removes everything (see cluster/node-cleanup.sh).
 */
export async function startNodeCluster(options: ControlPlaneOptions = {}): Promise<NodeCluster> {
  const began = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`[node] ${line}\n`));
  const binDir = findNodeBinDir();
  const nodeDir = options.dir
    ? join(options.dir, 'node')
    : mkdtempSync(join(tmpdir(), 'genome-node-'));
  mkdirSync(nodeDir, { recursive: true });
  const host = claimNodeHost(nodeDir, !options.dir);
  const { ranges } = host;
  const cp = await startControlPlane({
    ...options,
    network: {
      address: ranges.hostAddress,
      serviceCidr: ranges.serviceCidr,
      kubernetesServiceIp: ranges.kubernetesServiceIp,
    },
    cleanupCommand: host.cleanupCommand,
  });
  try {
    const node = await startNode(cp, host, nodePaths(nodeDir, binDir), log);
    log(
      `node ${NODE_NAME} Ready in ${((performance.now() - began) / 1000).toFixed(1)}s (slot ${ranges.slot}, ${ranges.block})`,
    );
    const started = node.processes.map(({ name, pid, logPath }) => ({ name, pid, logPath }));
    return { ...cp, processes: [...cp.processes, ...started], node };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

interface StartedNode extends LocalNode {
  processes: SpawnedProcess[];
}

async function startNode(
  cp: ControlPlane,
  host: NodeHost,
  paths: NodePaths,
  log: (line: string) => void,
): Promise<StartedNode> {
  const processes: SpawnedProcess[] = [];
  const adopt = (proc: SpawnedProcess) => {
    processes.push(proc);
    cp.adopt([proc]);
    joinNodeCgroups(host.cgroups, 'system', proc.pid);
    return proc;
  };
  const holder = adopt(startNamespaces(paths));
  await waitFor(
    () => existsSync(join(paths.dir, 'namespaces-ready')),
    [holder],
    10_000,
    'the node namespaces',
  );
  plugVeth(host, holder.pid);
  const files = await writeNodeFiles(cp, host, paths);
  const inNode = (name: string, args: string[]) =>
    adopt(
      spawnLogged(
        name,
        'nsenter',
        // env: containerd finds its shim on PATH; kube-proxy finds iptables-restore there.
        [
          '-t',
          String(holder.pid),
          '-m',
          '-n',
          '--',
          'env',
          `PATH=${paths.binDir}:${process.env.PATH}`,
          join(paths.binDir, name),
          ...args,
        ],
        join(paths.dir, `${name}.log`),
      ),
    );
  const containerd = inNode('containerd', ['--config', files.containerdConfig]);
  const ctr = (args: string[]) =>
    run(join(paths.binDir, 'ctr'), ['--address', paths.containerdSocket, ...args]);
  await waitFor(() => tryRun(() => ctr(['version'])), [holder, containerd], 20_000, 'containerd');
  await importImages(ctr);
  log('containerd up, images imported');
  const kubelet = inNode('kubelet', [
    `--config=${files.kubeletConfig}`,
    `--kubeconfig=${files.kubeletKubeconfig}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${host.ranges.nodeAddress}`,
    '--v=1',
  ]);
  const proxy = inNode('kube-proxy', [`--config=${files.kubeProxyConfig}`, '--v=1']);
  const scheduler = await startScheduler(paths, files.schedulerKubeconfig);
  processes.push(scheduler);
  cp.adopt([scheduler]);
  await waitForNodeReady(cp.kubeconfigPath, [holder, containerd, kubelet, proxy, scheduler]);
  return { name: NODE_NAME, host, paths, namespacePid: holder.pid, ctr, processes };
}

/** Imports the images the node runs into containerd (k8s.io namespace): there is no registry. */
async function importImages(ctr: (args: string[]) => string): Promise<void> {
  for (const image of [PAUSE_IMAGE, TEST_SERVER_IMAGE, PRODUCT_IMAGE, MATHISON_REFERENCE_IMAGE]) {
    ctr([
      '-n',
      'k8s.io',
      'images',
      'import',
      '--platform',
      'linux/amd64',
      await ensureImageArchive(image),
    ]);
  }
}

/** kube-scheduler on the host, against the control plane, its secure port on a free one. */
async function startScheduler(paths: NodePaths, kubeconfig: string): Promise<SpawnedProcess> {
  const [schedulerPort = 0] = await pickFreePorts(1);
  return spawnLogged(
    'kube-scheduler',
    join(paths.binDir, 'kube-scheduler'),
    [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedulerPort}`,
    ],
    join(paths.dir, 'kube-scheduler.log'),
  );
}

/**
 * The holder: a process in a new network and mount namespace that prepares them and then sleeps.
 * The mount namespace is private, so nothing the node mounts is seen (or left) on the host;
 * /run, /var/lib and /var/log get private tmpfs (kubelet and CNI write fixed paths there), and
 * the three kernel settings kubelet would otherwise change machine-wide read back as it wants.
 */
function startNamespaces(paths: NodePaths): SpawnedProcess {
  const sysctlDir = join(paths.dir, 'sysctl');
  mkdirSync(sysctlDir, { recursive: true });
  const binds = Object.entries(SYSCTLS_KUBELET_WANTS).map(([key, value]) => {
    const file = join(sysctlDir, key.replace(/\//g, '.'));
    writeFileSync(file, `${value}\n`);
    return `mount --bind '${file}' /proc/sys/${key} && mount -o remount,bind,ro /proc/sys/${key}`;
  });
  const script = [
    'set -eu',
    ...['/run', '/var/lib', '/var/log'].map((d) => `mount -t tmpfs -o mode=755 genome-node ${d}`),
    'mkdir -p /var/lib/cni /var/log/containers',
    ...binds,
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
    'if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables; fi',
    'ip link set lo up',
    `: > '${join(paths.dir, 'namespaces-ready')}'`,
    'exec sleep infinity',
  ].join('\n');
  return spawnLogged(
    'sleep',
    'unshare',
    ['--mount', '--net', '--propagation', 'private', '--', 'bash', '-c', script],
    join(paths.dir, 'namespaces.log'),
  );
}

/** Moves the node's end of the veth into the node's namespace and gives it its address. */
function plugVeth(host: NodeHost, pid: number): void {
  const { ranges } = host;
  run('ip', ['link', 'set', ranges.nodeLink, 'netns', String(pid)]);
  const inNet = (args: string[]) => run('nsenter', ['-t', String(pid), '-n', '--', 'ip', ...args]);
  inNet(['addr', 'add', `${ranges.nodeAddress}/30`, 'dev', ranges.nodeLink]);
  inNet(['link', 'set', ranges.nodeLink, 'up']);
}

interface NodeFiles {
  containerdConfig: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  kubeProxyConfig: string;
  schedulerKubeconfig: string;
}

/** Certificates from the control plane's CA, kubeconfigs and the config files of every part. */
async function writeNodeFiles(
  cp: ControlPlane,
  host: NodeHost,
  paths: NodePaths,
): Promise<NodeFiles> {
  const ca = {
    cert: readFileSync(cp.files.caCert, 'utf8'),
    key: readFileSync(cp.files.caKey, 'utf8'),
  };
  const client = async (name: string, organizations?: string[]): Promise<KubeconfigUser> => ({
    name,
    ...(await issueCertificate(ca, { commonName: name, organizations, usage: 'client' })),
  });
  const kubeconfig = (file: string, user: KubeconfigUser) => {
    const path = join(paths.dir, file);
    writeKubeconfig(path, cp.serverUrl, cp.files, user);
    return path;
  };
  const nodeIdentity = `system:node:${NODE_NAME}`;
  const serving = await issueCertificate(ca, {
    commonName: nodeIdentity,
    organizations: ['system:nodes'],
    dnsNames: [NODE_NAME],
    ipAddresses: [host.ranges.nodeAddress],
    usage: 'server',
  });
  const servingCert = join(paths.dir, 'kubelet-serving.crt');
  const servingKey = join(paths.dir, 'kubelet-serving.key');
  writeFileSync(servingCert, serving.cert);
  writeFileSync(servingKey, serving.key, { mode: 0o600 });
  mkdirSync(paths.cniConfDir, { recursive: true });
  writeFileSync(
    join(paths.cniConfDir, '10-genome-pods.conflist'),
    JSON.stringify(cniConfig(host.ranges, paths), null, 2),
  );
  const files: NodeFiles = {
    containerdConfig: join(paths.dir, 'containerd.toml'),
    kubeletConfig: join(paths.dir, 'kubelet.yaml'),
    kubeletKubeconfig: kubeconfig(
      'kubelet.kubeconfig',
      await client(nodeIdentity, ['system:nodes']),
    ),
    kubeProxyConfig: join(paths.dir, 'kube-proxy.yaml'),
    schedulerKubeconfig: kubeconfig(
      'kube-scheduler.kubeconfig',
      await client('system:kube-scheduler'),
    ),
  };
  const proxyKubeconfig = kubeconfig('kube-proxy.kubeconfig', await client('system:kube-proxy'));
  writeFileSync(files.containerdConfig, containerdConfig(paths, PAUSE_IMAGE.name));
  const kubelet = kubeletConfig({
    paths,
    ranges: host.ranges,
    cgroupRoot: host.cgroups.root,
    caFile: cp.files.caCert,
    servingCert,
    servingKey,
  });
  // JSON is YAML: both configs are read by the components' YAML decoders.
  writeFileSync(files.kubeletConfig, JSON.stringify(kubelet, null, 2));
  writeFileSync(
    files.kubeProxyConfig,
    JSON.stringify(kubeProxyConfig(host.ranges, proxyKubeconfig), null, 2),
  );
  return files;
}

function tryRun(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/** Polls `ready` until it holds; throws with the end of a process's log when one dies or time runs out. */
async function waitFor(
  ready: () => boolean | Promise<boolean>,
  procs: SpawnedProcess[],
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exit);
    if (dead)
      throw new Error(
        `${dead.name} exited while waiting for ${what}; last lines of ${dead.logPath}:\n${tailLog(dead.logPath)}`,
      );
    if (await ready()) return;
    if (Date.now() > deadline) {
      const last = procs.at(-1);
      throw new Error(
        `${what} not ready after ${timeoutMs / 1000}s` +
          (last ? `; last lines of ${last.logPath}:\n${tailLog(last.logPath)}` : ''),
      );
    }
    await sleep(200);
  }
}

async function waitForNodeReady(kubeconfigPath: string, procs: SpawnedProcess[]): Promise<void> {
  const api = loadKubeConfig(kubeconfigPath).makeApiClient(CoreV1Api);
  const isReady = async () => {
    try {
      const node = await api.readNode({ name: NODE_NAME });
      return (
        node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
      );
    } catch {
      return false;
    }
  };
  // The kubelet is the one to blame when the node never turns Ready.
  const kubelet = procs.find((p) => p.name === 'kubelet');
  await waitFor(
    isReady,
    [...procs.filter((p) => p !== kubelet), ...(kubelet ? [kubelet] : [])],
    NODE_READY_TIMEOUT_MS,
    `node ${NODE_NAME} Ready`,
  );
}
