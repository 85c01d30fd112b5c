import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlBinary } from '../cluster/binaries.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { environmentWithoutProxies } from '../cluster/processes.ts';

// `make dev` with no KUBECONFIG: it starts its own local cluster, and writes and prints its
// kubeconfig at the stable path (.cluster/kubeconfig; here GENOME_CLUSTER_DIR points that at a
// temporary directory so a developer's own cluster is never touched).
const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const stateDir = mkdtempSync(join(tmpdir(), 'genome-dev-'));
const stable = join(stateDir, 'kubeconfig');

let dev: ChildProcess;
let output = '';
const exited = () =>
  new Promise<number | null>((resolve) => {
    if (dev.exitCode !== null) resolve(dev.exitCode);
    else dev.once('exit', (code) => resolve(code));
  });

beforeAll(async () => {
  const [port] = await pickFreePorts(1);
  const { KUBECONFIG: _ignored, ...env } = environmentWithoutProxies();
  dev = spawn(TSX, [join(ROOT, 'scripts', 'dev.ts')], {
    cwd: ROOT,
    // No node: this test is about the kubeconfig; test/node/ covers make dev's node parts.
    env: {
      ...env,
      GENOME_NODE: '0',
      GENOME_CLUSTER_DIR: stateDir,
      WEBHOOK_LISTEN: `127.0.0.1:${port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 110_000;
  while (!output.includes('[dev] running') && dev.exitCode === null && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
  if (!output.includes('[dev] running')) throw new Error(`make dev did not start:\n${output}`);
}, 120_000);

afterAll(async () => {
  if (dev.exitCode === null) {
    dev.kill('SIGINT');
    await exited();
  }
  rmSync(stateDir, { recursive: true, force: true });
});

describe('make dev on a machine with no cluster configured', () => {
  it('writes its kubeconfig at the stable path and prints that path', () => {
    expect(existsSync(stable)).toBe(true);
    expect(output).toContain(`KUBECONFIG=${stable}`);
  });

  it('serves the sample genome through that kubeconfig', () => {
    const got = spawnSync(
      kubectlBinary(),
      ['--kubeconfig', stable, 'get', 'gn', '-A', '-o', 'name'],
      {
        encoding: 'utf8',
        env: environmentWithoutProxies(),
      },
    );
    expect(got.stderr).toBe('');
    expect(got.stdout).toContain('genome.mathison.io/');
  });

  it('refuses a second make dev on the same path, before starting anything', () => {
    const { KUBECONFIG: _ignored, ...env } = environmentWithoutProxies();
    const second = spawnSync(TSX, [join(ROOT, 'scripts', 'dev.ts')], {
      cwd: ROOT,
      env: { ...env, GENOME_CLUSTER_DIR: stateDir },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`already running with ${stable}`);
  });

  it('stops on Ctrl-C with exit 0 and removes the kubeconfig of the cluster it stopped', async () => {
    dev.kill('SIGINT');
    expect(await exited()).toBe(0);
    expect(existsSync(stable)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
  });
});
