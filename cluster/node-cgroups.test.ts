import { describe, expect, it } from 'vitest';
import { nodeCgroupRoot, readHierarchies } from './node-cgroups.ts';

const MOUNTINFO = [
  '25 20 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu',
  '27 25 0:24 / /sys/fs/cgroup/cpuset rw,relatime shared:11 - cgroup cgroup rw,cpuset',
  '28 25 0:25 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory',
  '29 25 0:26 / /sys/fs/cgroup/systemd rw,relatime shared:13 - cgroup cgroup rw,name=systemd',
  '30 25 0:27 / /sys/fs/cgroup/unified rw,relatime shared:14 - cgroup2 cgroup2 rw',
].join('\n');
const CGROUP = [
  '9:name=systemd:/',
  '4:memory:/process_api/32d4',
  '3:cpuset:/',
  '1:cpu:/',
  '0::/',
].join('\n');

describe('the node cgroup root', () => {
  it('nests under this process in every hierarchy, v1 and v2', () => {
    const hierarchies = readHierarchies(MOUNTINFO, CGROUP);
    expect(hierarchies.map((h) => [h.mountPoint, h.own])).toEqual([
      ['/sys/fs/cgroup/cpu', '/'],
      ['/sys/fs/cgroup/cpuset', '/'],
      ['/sys/fs/cgroup/memory', '/process_api/32d4'],
      ['/sys/fs/cgroup/systemd', '/'],
      ['/sys/fs/cgroup/unified', '/'],
    ]);
    expect(nodeCgroupRoot(hierarchies, 'genome-node-0')).toBe('/process_api/32d4/genome-node-0');
  });

  it('is refused when this process sits in unrelated cgroups of two hierarchies', () => {
    const hierarchies = readHierarchies(MOUNTINFO, CGROUP.replace('1:cpu:/', '1:cpu:/elsewhere'));
    expect(() => nodeCgroupRoot(hierarchies, 'genome-node-0')).toThrow(
      /cannot nest the node's cgroups/,
    );
  });
});
