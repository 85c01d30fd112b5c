import { join } from 'node:path';
import type { NodeRanges } from './node-ranges.ts';

/**
 * Where a node's files are: under its own directory, except the shim sockets, which go to a short
 * path under /run; the node's processes see a private tmpfs there (and on /var/lib, /var/log).
 */
export interface NodePaths {
  dir: string;
  binDir: string;
  /** Short (containerd caps it at 42 bytes): /run/genome-node, in the node's private /run. */
  socketDir: string;
  containerdSocket: string;
  cniConfDir: string;
  kubeletRoot: string;
  podLogsDir: string;
}

/** The name the node registers under. */
export const NODE_NAME = 'genome-node';

/** The layout of a node whose state lives in `dir`. */
export function nodePaths(dir: string, binDir: string): NodePaths {
  return {
    dir,
    binDir,
    socketDir: '/run/genome-node',
    containerdSocket: join(dir, 'containerd', 'containerd.sock'),
    cniConfDir: join(dir, 'cni'),
    kubeletRoot: join(dir, 'kubelet'),
    podLogsDir: join(dir, 'pod-logs'),
  };
}

/** containerd's config (version 3): every path under the node's directory, CRI with runc and the bridge CNI. */
export function containerdConfig(paths: NodePaths, sandboxImage: string): string {
  const state = join(paths.dir, 'containerd', 'state');
  return `version = 3
root = ${toml(join(paths.dir, 'containerd', 'root'))}
state = ${toml(state)}
# NRI would listen on /var/run/nri (in the node's private /run, but nothing here uses it).
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = ${toml(paths.containerdSocket)}

[ttrpc]
  address = ${toml(`${paths.containerdSocket}.ttrpc`)}

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = ${toml(join(paths.dir, 'containerd', 'opt'))}

[plugins."io.containerd.shim.v1.manager"]
  socket_dir = ${toml(`${paths.socketDir}/s`)}

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ${toml(sandboxImage)}

[plugins."io.containerd.cri.v1.runtime"]
  # The sandbox has no CAP_SYS_RESOURCE: runc cannot lower a container's oom_score_adj below ours.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [${toml(join(paths.binDir, 'cni'))}]
    conf_dir = ${toml(paths.cniConfDir)}
    max_conf_num = 1
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = ${toml(join(paths.binDir, 'runc'))}
        Root = ${toml(join(state, 'runc'))}
        SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

function toml(value: string): string {
  return JSON.stringify(value);
}

/** The bridge network (with host-local addresses from the node's pod range) and loopback. */
export function cniConfig(ranges: NodeRanges, paths: NodePaths): object {
  return {
    cniVersion: '1.0.0',
    name: 'genome-pods',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        // Pods keep their own addresses: the host routes the pod range to the node, so no NAT.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: ranges.podCidr, gateway: ranges.bridgeAddress }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(paths.dir, 'cni-ipam'),
        },
      },
    ],
  };
}

/** Inputs of the kubelet's configuration. */
export interface KubeletInputs {
  paths: NodePaths;
  ranges: NodeRanges;
  cgroupRoot: string;
  caFile: string;
  servingCert: string;
  servingKey: string;
}

/** The KubeletConfiguration: webhook authn/authz, cgroupfs on v1 under cgroupRoot, nothing outside the node's directory. */
export function kubeletConfig(inputs: KubeletInputs): object {
  const { paths, ranges } = inputs;
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: ranges.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: inputs.caFile },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: inputs.servingCert,
    tlsPrivateKeyFile: inputs.servingKey,
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: inputs.cgroupRoot,
    cgroupsPerQOS: true,
    // This machine has cgroup v1; kubelet 1.37 still runs there when told to.
    failCgroupV1: false,
    failSwapOn: false,
    // Without CAP_SYS_RESOURCE the kubelet cannot lower its own OOM score.
    oomScoreAdj: 0,
    podLogsDir: paths.podLogsDir,
    volumePluginDir: join(paths.dir, 'volume-plugins'),
    // No cluster DNS: pods reach the API server through KUBERNETES_SERVICE_HOST, and no host resolver leaks in.
    resolvConf: '',
    clusterDomain: 'cluster.local',
    maxPods: 110,
    podCIDR: ranges.podCidr,
    serializeImagePulls: false,
    // The shared disk of a test machine is no reason to evict test pods.
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Faster status and pod-lifecycle feedback for tests than the defaults (10 s, 1 min).
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
    staticPodPath: '',
    rotateCertificates: false,
    serverTLSBootstrap: false,
    registerNode: true,
    shutdownGracePeriod: '0s',
    logging: { format: 'text' },
  };
}

/** The KubeProxyConfiguration: iptables in the node's namespace, touching no global sysctl. */
export function kubeProxyConfig(ranges: NodeRanges, kubeconfig: string): object {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    mode: 'iptables',
    hostnameOverride: NODE_NAME,
    bindAddress: ranges.nodeAddress,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    clusterCIDR: ranges.clusterCidr,
    nodePortAddresses: [`${ranges.nodeAddress}/32`],
    oomScoreAdj: 0,
    // 0 leaves nf_conntrack_max and the timeouts as they are (some are global to the machine).
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
      udpTimeout: '0s',
      udpStreamTimeout: '0s',
    },
    iptables: { minSyncPeriod: '0s', syncPeriod: '30s', masqueradeAll: false },
  };
}
