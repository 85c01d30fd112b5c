/** How many local node clusters can run side by side (each takes one slot of addresses). */
export const NODE_SLOTS = 8;

/** The addresses of one local node cluster; all inside its own /20 of 198.18.0.0/15. */
export interface NodeRanges {
  slot: number;
  /** The whole block: routed to the veth or unreachable on the host, never to the default route. */
  block: string;
  /** The host's end of the veth: the API server listens and advertises here. */
  hostAddress: string;
  /** The node's end of the veth, inside its network namespace: the kubelet's address. */
  nodeAddress: string;
  /** The /30 between the two. */
  linkCidr: string;
  /** --service-cluster-ip-range, and the `kubernetes` Service's ClusterIP (its first address). */
  serviceCidr: string;
  kubernetesServiceIp: string;
  /** The pods' range (kube-proxy's cluster CIDR) and the node's bridge subnet within it. */
  clusterCidr: string;
  podCidr: string;
  /** The bridge's own address: the pods' gateway. */
  bridgeAddress: string;
  /** The veth's host and node link names (15 bytes at most). */
  hostLink: string;
  nodeLink: string;
}

/**
 * The ranges of slot `slot` (0-7). 198.18.0.0/15 is reserved for benchmarking (RFC 2544), so no
 * real network this machine could reach uses it; slot n takes 198.18.(16n).0/20.
 */
export function nodeRanges(slot: number): NodeRanges {
  if (!Number.isInteger(slot) || slot < 0 || slot >= NODE_SLOTS)
    throw new Error(`node slot ${slot} is outside 0-${NODE_SLOTS - 1}`);
  const third = slot * 16;
  const at = (offset: number, host: number) => `198.18.${third + offset}.${host}`;
  return {
    slot,
    block: `${at(0, 0)}/20`,
    hostAddress: at(0, 1),
    nodeAddress: at(0, 2),
    linkCidr: `${at(0, 0)}/30`,
    serviceCidr: `${at(4, 0)}/24`,
    kubernetesServiceIp: at(4, 1),
    clusterCidr: `${at(8, 0)}/22`,
    podCidr: `${at(8, 0)}/24`,
    bridgeAddress: at(8, 1),
    hostLink: `gnode${slot}-host`,
    nodeLink: `gnode${slot}-node`,
  };
}
