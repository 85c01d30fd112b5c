import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeCluster } from '../../cluster/node.ts';

/** What a running node made on the host, taken while it runs, to look for after it stops. */
export interface NodeFootprint {
  dir: string;
  hostLink: string;
  block: string;
  cgroupDirs: string[];
  createdCgroups: string[];
  pids: number[];
  netns: string;
  mntns: string;
}

/** The footprint of `cluster`'s node: its processes (containers and shims included), namespaces, cgroups, link. */
export function footprint(cluster: NodeCluster): NodeFootprint {
  const { node } = cluster;
  const pids = node.host.cgroups.dirs.flatMap((dir) => cgroupPids(dir));
  return {
    dir: node.paths.dir,
    hostLink: node.host.ranges.hostLink,
    block: node.host.ranges.block,
    cgroupDirs: node.host.cgroups.dirs,
    createdCgroups: node.host.cgroups.created,
    pids: [...new Set([...pids, ...cluster.processes.map((p) => p.pid)])],
    netns: readlinkSync(`/proc/${node.namespacePid}/ns/net`),
    mntns: readlinkSync(`/proc/${node.namespacePid}/ns/mnt`),
  };
}

function cgroupPids(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const here = readFileSync(join(dir, 'cgroup.procs'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(Number);
  const children = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => cgroupPids(join(dir, e.name)));
  return [...here, ...children];
}

/** Everything of `print` still on the host: one line per leftover; empty when all is gone. */
export function leftovers(print: NodeFootprint): string[] {
  const found: string[] = [];
  for (const pid of print.pids) {
    const stat = readStatState(pid);
    if (stat && stat !== 'Z') found.push(`process ${pid} (${readComm(pid)})`);
  }
  for (const dir of [...print.cgroupDirs, ...print.createdCgroups])
    if (existsSync(dir)) found.push(`cgroup ${dir}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const ns = (kind: string) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/${kind}`);
      } catch {
        return '';
      }
    };
    if (ns('net') === print.netns) found.push(`process ${pid} in the node's network namespace`);
    if (ns('mnt') === print.mntns) found.push(`process ${pid} in the node's mount namespace`);
  }
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  if (links.includes(`${print.hostLink}@`) || links.includes(`${print.hostLink}:`))
    found.push(`link ${print.hostLink}`);
  const prefix = print.block.split('.').slice(0, 2).join('.');
  const routes = execFileSync('ip', ['route', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter((r) => r.includes(print.hostLink) || r.includes(print.block));
  found.push(...routes.map((r) => `route ${r}`));
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((m) => m.includes(print.dir));
  found.push(...mounts.map((m) => `mount ${m}`));
  const rules = execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((r) => /KUBE-|CNI-/.test(r) || r.includes(prefix));
  found.push(...rules.map((r) => `iptables ${r}`));
  if (existsSync(print.dir)) found.push(`directory ${print.dir}`);
  return found;
}

function readStatState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}
