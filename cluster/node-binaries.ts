import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = fileURLToPath(new URL('../scripts/build-node.sh', import.meta.url));
const BINARIES = ['kubelet', 'kube-proxy', 'kube-scheduler', 'containerd', 'ctr', 'runc', 'crictl'];

let cached: string | undefined;

/** The directory with the node's binaries (GENOME_NODE_BIN, else the build cache), or undefined. */
export function tryFindNodeBinDir(): string | undefined {
  if (cached) return cached;
  // --check prints the cache dir only when everything is built; it never starts a build.
  const dir = process.env.GENOME_NODE_BIN || checkBuildCache();
  if (dir && BINARIES.every((b) => existsSync(join(dir, b)))) cached = dir;
  return cached;
}

/** The directory with the node's binaries; throws with what to do when they are missing. */
export function findNodeBinDir(): string {
  const dir = tryFindNodeBinDir();
  if (dir) return dir;
  throw new Error(
    `node binaries (${BINARIES.join(', ')}, CNI plugins) not found: run \`make node\` ` +
      '(it builds them once into ~/.cache/genome-operator/node), or set GENOME_NODE_BIN',
  );
}

function checkBuildCache(): string | undefined {
  const result = spawnSync('bash', [BUILD_SCRIPT, '--check'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
