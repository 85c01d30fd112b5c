import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createNodeCgroups,
  nodeCgroupRoot,
  readHierarchies,
  type NodeCgroups,
} from './node-cgroups.ts';
import { NODE_SLOTS, nodeRanges, type NodeRanges } from './node-ranges.ts';

const CLEANUP_SCRIPT = fileURLToPath(new URL('./node-cleanup.sh', import.meta.url));
/** The metric of the guard route: below any real route to the block, above nothing else. */
const GUARD_METRIC = 4242;

/** What a node claimed on the host before anything started: its slot, cgroups and veth. */
export interface NodeHost {
  ranges: NodeRanges;
  cgroups: NodeCgroups;
  /** Run this (synchronously or not) to remove all of it, and whatever the node started later. */
  cleanupCommand: string[];
}

/** Runs a command; throws with its stderr when it fails. */
export function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim();
    throw new Error(`${command} ${args.join(' ')} failed: ${why}`);
  }
  return result.stdout;
}

/**
 * Claims a free slot (by creating its veth pair, which fails when another node has it), then the
 * node's cgroups and host routes. Every step is recorded in `<dir>/cleanup.env` first, so the
 * clean-up command removes exactly what was made, even after a crash half-way (and `dir`
 * itself when `removeDir`).
 */
export function claimNodeHost(dir: string, removeDir: boolean): NodeHost {
  const envFile = join(dir, 'cleanup.env');
  writeFileSync(envFile, '# written by cluster/node-host.ts; read by cluster/node-cleanup.sh\n');
  const record = (line: string) => appendFileSync(envFile, `${line}\n`);
  if (removeDir) record(`REMOVE_DIR=${quote(dir)}`);
  const cleanupCommand = ['bash', CLEANUP_SCRIPT, envFile];
  try {
    const ranges = claimSlot(record);
    const hierarchies = readHierarchies(
      readFileSync('/proc/self/mountinfo', 'utf8'),
      readFileSync('/proc/self/cgroup', 'utf8'),
    );
    const cgroups = createNodeCgroups(
      hierarchies,
      nodeCgroupRoot(hierarchies, `genome-node-${ranges.slot}`),
      (created) => record(`CREATED_DIRS+=(${quote(created)})`),
    );
    record(`CGROUP_DIRS=(${cgroups.dirs.map(quote).join(' ')})`);
    // Where clean-up stops climbing: this process's own cgroup in each hierarchy.
    record(`OWN_DIRS=(${hierarchies.map((h) => quote(join(h.mountPoint, h.own))).join(' ')})`);
    routeBlock(ranges, record);
    return { ranges, cgroups, cleanupCommand };
  } catch (err) {
    spawnSync(cleanupCommand[0]!, cleanupCommand.slice(1), { stdio: 'ignore' });
    throw err;
  }
}

function claimSlot(record: (line: string) => void): NodeRanges {
  for (let slot = 0; slot < NODE_SLOTS; slot++) {
    const ranges = nodeRanges(slot);
    const result = spawnSync(
      'ip',
      ['link', 'add', ranges.hostLink, 'type', 'veth', 'peer', 'name', ranges.nodeLink],
      { encoding: 'utf8' },
    );
    if (result.status === 0) {
      record(`HOST_LINK=${quote(ranges.hostLink)}`);
      return ranges;
    }
    if (!/exists/i.test(result.stderr))
      throw new Error(`ip link add ${ranges.hostLink} failed: ${result.stderr.trim()}`);
  }
  throw new Error(
    `${NODE_SLOTS} local node clusters already run on this machine (links gnode0-host to ` +
      `gnode${NODE_SLOTS - 1}-host exist): stop one (make cluster-down, or end its test run) and try again`,
  );
}

/**
 * Gives the host's end of the veth its address, routes the pod and service ranges to the node,
 * and makes the rest of the block unreachable (so nothing of it ever takes the default route,
 * not even after the veth is gone and before clean-up ends).
 */
function routeBlock(ranges: NodeRanges, record: (line: string) => void): void {
  run('ip', ['route', 'add', 'unreachable', ranges.block, 'metric', String(GUARD_METRIC)]);
  record(`BLOCK=${quote(ranges.block)} ROUTE_METRIC=${GUARD_METRIC}`);
  run('ip', ['addr', 'add', `${ranges.hostAddress}/30`, 'dev', ranges.hostLink]);
  run('ip', ['link', 'set', ranges.hostLink, 'up']);
  for (const cidr of [ranges.serviceCidr, ranges.clusterCidr])
    run('ip', ['route', 'add', cidr, 'via', ranges.nodeAddress, 'dev', ranges.hostLink, 'onlink']);
}

function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
