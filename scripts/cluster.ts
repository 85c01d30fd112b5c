// A local cluster that outlives the command: `make cluster-up`, `make cluster-down`. It has a
// node (kubelet, containerd, ...) unless NODE=0 or this machine cannot run one.
// Usage: tsx scripts/cluster.ts up|down|status
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { nodeUnsupportedReason, startNodeCluster, type NodeCluster } from '../cluster/node.ts';
import {
  isRunning,
  stopProcesses,
  waitUntilReaped,
  type ManagedProcess,
} from '../cluster/processes.ts';
import { isClusterReady } from '../cluster/readiness.ts';
import { clusterStateDir, stableKubeconfigPath } from '../cluster/state-dir.ts';

/** What `up` leaves behind for `status` and `down`. */
interface ClusterState {
  serverUrl: string;
  kubeconfigPath: string;
  processes: ManagedProcess[];
  /** Removes the node's cgroups and network once the processes are gone (absent without a node). */
  cleanupCommand?: string[];
  startedAt: string;
}

const STATE_DIR = clusterStateDir();
const STATE_FILE = join(STATE_DIR, 'state.json');
const KUBECONFIG = stableKubeconfigPath();

function readState(): ClusterState | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState;
}

async function isHealthy(state: ClusterState | undefined): Promise<boolean> {
  return (
    !!state && state.processes.every(isRunning) && (await isClusterReady(state.kubeconfigPath))
  );
}

function printUsage(): void {
  console.log(
    `use it with:\n  export KUBECONFIG=${KUBECONFIG}; kubectl get ns\nstop it with: make cluster-down`,
  );
}

/** A control plane with a node, unless NODE=0 or this machine cannot run one (it says why). */
async function startCluster(): Promise<{ cp: ControlPlane; nodeCluster?: NodeCluster }> {
  const why = process.env.GENOME_NODE === '0' ? 'NODE=0' : nodeUnsupportedReason();
  const options = { dir: STATE_DIR, detached: true };
  if (!why) {
    const nodeCluster = await startNodeCluster(options);
    return { cp: nodeCluster, nodeCluster };
  }
  console.log(`starting without a node (pods stay Pending): ${why}`);
  return { cp: await startControlPlane(options) };
}

async function up(): Promise<void> {
  const previous = readState();
  if (await isHealthy(previous)) {
    console.log(`local control plane already running at ${previous?.serverUrl}`);
    printUsage();
    return;
  }
  // Anything half-alive from an earlier run goes first: a fresh start is simpler than a repair.
  if (previous) await stopAll(previous);
  rmSync(STATE_DIR, { recursive: true, force: true });
  const { cp, nodeCluster } = await startCluster();
  const state: ClusterState = {
    serverUrl: cp.serverUrl,
    kubeconfigPath: cp.kubeconfigPath,
    processes: cp.processes,
    cleanupCommand: nodeCluster?.node.host.cleanupCommand,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
  const where = nodeCluster
    ? `${STATE_DIR}/*.log and ${STATE_DIR}/node/*.log`
    : `${STATE_DIR}/*.log`;
  const what = nodeCluster ? 'local control plane and node' : 'local control plane';
  console.log(`${what} running at ${cp.serverUrl}; logs in ${where}`);
  printUsage();
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    console.log(`no local control plane (no ${STATE_FILE})`);
    return;
  }
  await stopAll(state);
  // They are no longer our children, so PID 1 reaps them; wait so that none shows in `ps` after us.
  const zombies = await waitUntilReaped(state.processes);
  if (zombies.length > 0)
    console.warn(`exited but not yet reaped by PID 1: ${zombies.map((p) => p.pid).join(', ')}`);
  rmSync(STATE_DIR, { recursive: true, force: true });
  console.log(`stopped ${state.processes.map((p) => p.name).join(', ')}; removed ${STATE_DIR}`);
}

/** Stops the processes, then removes the node's containers, cgroups and network (if any). */
async function stopAll(state: ClusterState): Promise<void> {
  try {
    await stopProcesses(state.processes);
  } finally {
    const [command, ...args] = state.cleanupCommand ?? [];
    if (command) spawnSync(command, args, { stdio: 'inherit' });
  }
}

async function status(): Promise<void> {
  const state = readState();
  if (!state) {
    console.log('not running');
    process.exitCode = 1;
    return;
  }
  for (const p of state.processes)
    console.log(`${p.name.padEnd(24)} pid ${p.pid} ${isRunning(p) ? 'running' : 'gone'}`);
  const ready = await isClusterReady(state.kubeconfigPath);
  console.log(`${state.serverUrl} /readyz: ${ready ? 'ok' : 'not ready'}`);
  if (ready) printUsage();
  process.exitCode = ready ? 0 : 1;
}

const commands: Record<string, () => Promise<void>> = { up, down, status };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: tsx scripts/cluster.ts up|down|status');
  process.exit(2);
}
try {
  await command();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
}
// Idle keep-alive sockets from the readiness probes would otherwise hold the process open.
process.exit();
