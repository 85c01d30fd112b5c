// Nothing of a node is left after it stops: not by stop(), not after the harness is SIGKILLed
// (the watchdog cleans up). Each test starts a second node cluster beside the suite's, which
// also shows that two run side by side.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startNodeCluster } from '../../cluster/node.ts';
import { eventually } from '../support/cluster.ts';
import { footprint, leftovers, type NodeFootprint } from './leftovers.ts';
import { runOnePod } from './one-pod.ts';

describe('stopping a node cluster', () => {
  it('leaves no process, mount, namespace, link, route, rule, cgroup or directory of it', async () => {
    const cluster = await startNodeCluster({ log: () => {} });
    let print: NodeFootprint;
    try {
      expect(cluster.node.host.ranges.slot).toBeGreaterThan(0);
      await runOnePod(cluster.kubeconfigPath);
      print = footprint(cluster);
      // Containers and their shims are in the node's cgroups too, not only the daemons.
      expect(print.pids.length).toBeGreaterThan(cluster.processes.length);
      expect(leftovers(print).length).toBeGreaterThan(0);
    } finally {
      await cluster.stop();
    }
    expect(leftovers(print)).toEqual([]);
  });

  it('leaves nothing either when the harness is killed outright (the watchdog cleans up)', async () => {
    const script = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await once(lines, 'line')) as [string];
    const print = JSON.parse(line) as NodeFootprint;
    expect(leftovers(print).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const left = await eventually(
      'the watchdog to remove everything',
      async () => (leftovers(print).length === 0 ? [] : undefined),
      30_000,
    ).catch(() => leftovers(print));
    expect(left).toEqual([]);
  });
});
