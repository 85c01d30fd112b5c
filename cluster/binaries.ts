import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = fileURLToPath(new URL('../scripts/build-control-plane.sh', import.meta.url));
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'];

let cached: string | undefined;

/** The directory with the control-plane binaries (GENOME_CP_BIN, else the build cache), or undefined. */
export function tryFindBinDir(): string | undefined {
  if (cached) return cached;
  const fromEnv = process.env.GENOME_CP_BIN;
  // --check prints the cache dir only when everything is built; it never starts a build.
  const dir = fromEnv || checkBuildCache();
  if (dir && BINARIES.every((b) => existsSync(join(dir, b)))) cached = dir;
  return cached;
}

/** The directory with the control-plane binaries; throws with what to do when they are missing. */
export function findBinDir(): string {
  const dir = tryFindBinDir();
  if (dir) return dir;
  const where = process.env.GENOME_CP_BIN
    ? `GENOME_CP_BIN=${process.env.GENOME_CP_BIN}`
    : 'the build cache';
  throw new Error(
    `control-plane binaries (${BINARIES.join(', ')}) not found in ${where}: ` +
      'run `make control-plane` (the first build takes several minutes), or set GENOME_CP_BIN to a directory holding them',
  );
}

/** The kubectl to run: the built one when present, else `kubectl` from PATH. */
export function kubectlBinary(): string {
  const dir = tryFindBinDir();
  return dir ? join(dir, 'kubectl') : 'kubectl';
}

function checkBuildCache(): string | undefined {
  const result = spawnSync('bash', [BUILD_SCRIPT, '--check'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}
