import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/** One mounted cgroup hierarchy and where this process sits in it. */
export interface CgroupHierarchy {
  /** Where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  /** The controllers (v1) or '' (the v2 hierarchy), as /proc/self/cgroup names them. */
  controllers: string;
  /** This process's cgroup in it, e.g. /process_api/32d4... */
  own: string;
}

/** The node's cgroups: one path, nested under this process's cgroup in every hierarchy. */
export interface NodeCgroups {
  /** The kubelet's cgroupRoot: the same path in every hierarchy. */
  root: string;
  /** That path's directory in each hierarchy. */
  dirs: string[];
  /** The directories this made (parents first), for clean-up to remove. */
  created: string[];
}

/**
 * The cgroup hierarchies mounted here, and this process's place in each, read from
 * /proc/self/mountinfo and /proc/self/cgroup (both passed in, so tests can give their own).
 */
export function readHierarchies(mountinfo: string, procCgroup: string): CgroupHierarchy[] {
  const own = new Map<string, string>();
  for (const line of procCgroup.trim().split('\n')) {
    const [, controllers = '', path = '/'] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    own.set(controllers, path);
  }
  const hierarchies: CgroupHierarchy[] = [];
  for (const mount of mountinfo.trim().split('\n').flatMap(cgroupMount)) {
    const path = own.get(mount.controllers);
    // A mount of a sub-tree (root other than /) would need its own path arithmetic; none here.
    if (path !== undefined && mount.root === '/')
      hierarchies.push({ mountPoint: mount.mountPoint, controllers: mount.controllers, own: path });
  }
  return hierarchies;
}

const MOUNT_FLAGS = ['rw', 'ro', 'relatime', 'noexec', 'nosuid', 'nodev'];

/** A cgroup mount of one mountinfo line (none for other file systems). */
function cgroupMount(
  line: string,
): Array<{ root: string; mountPoint: string; controllers: string }> {
  const [left = '', right = ''] = line.split(' - ');
  const [, , , root = '', mountPoint = ''] = left.split(' ');
  const [fsType, , superOptions = ''] = right.split(' ');
  if (fsType === 'cgroup2') return [{ root, mountPoint, controllers: '' }];
  if (fsType !== 'cgroup') return [];
  const controllers = superOptions
    .split(',')
    .filter((o) => !MOUNT_FLAGS.includes(o))
    .join(',');
  return [{ root, mountPoint, controllers }];
}

/**
 * The node's cgroup path: `<deepest own cgroup>/<name>`, which lies under this process's own
 * cgroup in every hierarchy only when those cgroups are ancestors of one another. Throws
 * otherwise, saying why (the node never puts pods beside or above the harness).
 */
export function nodeCgroupRoot(hierarchies: CgroupHierarchy[], name: string): string {
  const deepest = hierarchies
    .map((h) => h.own)
    .reduce((a, b) => (b.length > a.length ? b : a), '/');
  for (const h of hierarchies) {
    const prefix = h.own === '/' ? '/' : `${h.own}/`;
    if (h.own !== deepest && !deepest.startsWith(prefix))
      throw new Error(
        `cannot nest the node's cgroups under this process in every hierarchy: it is in ${h.own} ` +
          `in ${h.mountPoint} but in ${deepest} elsewhere`,
      );
  }
  return posix.join(deepest, name);
}

/**
 * Creates the node's cgroup `root` in every hierarchy (copying cpuset.cpus and cpuset.mems
 * down each new cpuset level, which a new v1 cpuset needs before it can hold a task), telling
 * `onCreate` about each directory before the next one is made.
 */
export function createNodeCgroups(
  hierarchies: CgroupHierarchy[],
  root: string,
  onCreate: (dir: string) => void = () => {},
): NodeCgroups {
  const created: string[] = [];
  const dirs: string[] = [];
  for (const h of hierarchies) {
    const parts = root.split('/').filter(Boolean);
    let dir = h.mountPoint;
    for (const part of parts) {
      const parent = dir;
      dir = join(dir, part);
      if (existsSync(dir)) continue;
      onCreate(dir);
      mkdirSync(dir);
      created.push(dir);
      if (h.controllers.split(',').includes('cpuset')) copyCpuset(parent, dir);
    }
    dirs.push(dir);
  }
  return { root, dirs, created };
}

function copyCpuset(parent: string, dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    writeFileSync(join(dir, file), readFileSync(join(parent, file), 'utf8').trim() || '\n');
  }
}

/** Moves process `pid` into the node's cgroup (a child `leaf` of it) in every hierarchy. */
export function joinNodeCgroups(cgroups: NodeCgroups, leaf: string, pid: number): void {
  for (const dir of cgroups.dirs) {
    const target = join(dir, leaf);
    if (!existsSync(target)) {
      mkdirSync(target);
      if (existsSync(join(dir, 'cpuset.cpus'))) copyCpuset(dir, target);
    }
    writeFileSync(join(target, 'cgroup.procs'), String(pid));
  }
}
