// Run by cleanup.test.ts: starts a node cluster with one running pod, prints its footprint as
// one JSON line, then waits to be killed (SIGKILL: only the watchdog can clean up after that).
import { startNodeCluster } from '../../cluster/node.ts';
import { footprint } from './leftovers.ts';
import { runOnePod } from './one-pod.ts';

const cluster = await startNodeCluster({ log: () => {} });
await runOnePod(cluster.kubeconfigPath);
process.stdout.write(`${JSON.stringify(footprint(cluster))}\n`);
setInterval(() => {}, 1 << 30);
