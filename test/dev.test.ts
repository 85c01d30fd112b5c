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
  const deadline = Date.now() + 170_000;
  while (!output.includes('[dev] running') && dev.exitCode === null && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
  if (!output.includes('[dev] running')) throw new Error(`make dev did not start:\n${output}`);
}, 180_000);

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

  /** kubectl get through the printed kubeconfig; its stdout. */
  const get = (args: string[]): string => {
    const got = spawnSync(kubectlBinary(), ['--kubeconfig', stable, 'get', ...args], {
      encoding: 'utf8',
      env: environmentWithoutProxies(),
    });
    if (got.status !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${got.stderr}`);
    return got.stdout;
  };

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

  it("creates the chart's default trust policy (production off: test keys count), under which the sample is verified", () => {
    const policy = JSON.parse(get(['gtp', 'default', '-o', 'json']));
    expect(policy.spec).toEqual({ mode: 'Enforce', allowTestKeys: true });
    const verified = '{.status.conditions[?(@.type=="Verified")].status}';
    expect(get(['gn', 'totk', '-n', 'default', '-o', `jsonpath=${verified}`])).toBe('True');
  });

  it('runs the sample Deployment (two replicas) behind a Service, its pods injected with the TOTK genome', async () => {
    const deployment = JSON.parse(get(['deployment', 'mathison', '-n', 'default', '-o', 'json']));
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.metadata.labels['genome.mathison.io/genome']).toBe('totk');
    expect(deployment.spec.template.spec.containers[0].image).toBe(
      'genome.local/mathison-reference:v1',
    );
    const service = JSON.parse(get(['service', 'mathison', '-n', 'default', '-o', 'json']));
    expect(service.spec.selector).toEqual({ app: 'mathison' });
    const status = JSON.parse(get(['gn', 'totk', '-n', 'default', '-o', 'json'])).status;
    expect(status.genomeId).toMatch(/^[0-9a-f]{64}$/);
    // No node here: the pods stay Pending, but they were admitted through the pod webhook.
    const pods = JSON.parse(get(['pods', '-n', 'default', '-l', 'app=mathison', '-o', 'json']))
      .items as Record<string, any>[];
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(pod.metadata.annotations['genome.mathison.io/id']).toBe(status.genomeId);
      expect(pod.spec.readinessGates).toEqual([{ conditionType: 'genome.mathison.io/verified' }]);
      expect(pod.spec.volumes).toContainEqual(
        expect.objectContaining({
          name: 'mathison-genome',
          configMap: expect.objectContaining({ name: status.configMapName }),
        }),
      );
      expect(pod.spec.initContainers[0]).toMatchObject({
        name: 'genome-verify',
        image: 'genome.local/genome-operator:v1',
      });
    }
  });

  it('prints the three commands of readiness following trust; the first and last withdraw and restore it', async () => {
    const lines = output.split('\n');
    const after = (marker: string) => {
      const at = lines.findIndex((l) => l.includes(marker));
      expect(at, `"${marker}" in the output`).toBeGreaterThan(-1);
      return lines[at + 1]!.trim();
    };
    const shell = after('readiness follows trust (in a shell with:');
    const [withdraw, watch, restore] = [
      after('1. withdraw trust'),
      after('2. watch the pods go NotReady'),
      after('3. put it back'),
    ];
    expect(shell).toContain(`export KUBECONFIG=${stable}`);
    expect(watch).toBe('kubectl -n default get pods -l app=mathison -o wide -w');
    const run = (command: string) => {
      const done = spawnSync('bash', ['-c', `${shell}; ${command}`], {
        encoding: 'utf8',
        env: environmentWithoutProxies(),
      });
      expect(done.stderr).toBe('');
      expect(done.status).toBe(0);
    };
    const verified = () =>
      get([
        'gn',
        'totk',
        '-n',
        'default',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Verified")].status}',
      ]);
    const until = async (want: string) => {
      const deadline = Date.now() + 30_000;
      while (verified() !== want && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect(verified()).toBe(want);
    };
    run(withdraw);
    await until('False');
    run(restore);
    await until('True');
  });

  it('applies the production-mode sample: the MATHISON_REFERENCE Genome verified, its Deployment in production mode, its pod given its own image to check', () => {
    const verified = '{.status.conditions[?(@.type=="Verified")].status}';
    expect(get(['gn', 'mathison-reference', '-n', 'default', '-o', `jsonpath=${verified}`])).toBe(
      'True',
    );
    const deployment = JSON.parse(
      get(['deployment', 'mathison-production', '-n', 'default', '-o', 'json']),
    );
    const template = deployment.spec.template;
    expect(template.metadata.labels['genome.mathison.io/genome']).toBe('mathison-reference');
    expect(template.spec.containers[0]).toMatchObject({
      image: 'genome.local/mathison-reference:v1',
      env: [
        { name: 'MATHISON_ENV', value: 'production' },
        { name: 'MATHISON_REPO_ROOT', value: '/app' },
      ],
    });
    const pods = JSON.parse(
      get(['pods', '-n', 'default', '-l', 'app=mathison-production', '-o', 'json']),
    ).items as Record<string, any>[];
    expect(pods).toHaveLength(1);
    const images = pods[0]!.spec.volumes.filter((v: { image?: object }) => v.image);
    expect(images).toEqual([
      expect.objectContaining({
        image: expect.objectContaining({ reference: 'genome.local/mathison-reference:v1' }),
      }),
    ]);
  });

  it('prints the production commands: roll to the tampered image, describe, the Genome, roll back; the rolls change the Deployment', () => {
    const lines = output.split('\n');
    const after = (marker: string) => {
      const at = lines.findIndex((l) => l.includes(marker));
      expect(at, `"${marker}" in the output`).toBeGreaterThan(-1);
      return lines[at + 1]!.trim();
    };
    const shell = after('readiness follows trust (in a shell with:');
    const path = after('with the genome CLI as kubectl genome:');
    const roll = after('4. roll the production sample');
    const describe = after('5. see the refusal');
    const status = after("the Genome's Warning Event");
    const events = lines[lines.findIndex((l) => l.includes(status)) + 1]!.trim();
    const back = after('6. roll back');
    expect(path).toBe(`export PATH=${join(ROOT, 'bin')}:$PATH`);
    expect(roll).toBe(
      'kubectl -n default set image deployment/mathison-production mathison=genome.local/mathison-reference:tampered',
    );
    expect(describe).toBe('kubectl -n default describe pod -l app=mathison-production');
    expect(status).toBe('kubectl genome status mathison-reference -n default');
    expect(events).toBe(
      'kubectl -n default get events --field-selector involvedObject.kind=Genome,involvedObject.name=mathison-reference',
    );
    expect(back).toBe(
      'kubectl -n default set image deployment/mathison-production mathison=genome.local/mathison-reference:v1',
    );
    const run = (command: string) => {
      const done = spawnSync('bash', ['-c', `${shell}; ${path}; ${command}`], {
        encoding: 'utf8',
        env: environmentWithoutProxies(),
      });
      expect(done.status, done.stderr).toBe(0);
      return done.stdout;
    };
    const image = () =>
      get([
        ...['deployment', 'mathison-production', '-n', 'default'],
        ...['-o', 'jsonpath={.spec.template.spec.containers[0].image}'],
      ]);
    run(roll);
    expect(image()).toBe('genome.local/mathison-reference:tampered');
    expect(run(status)).toContain('Genome default/mathison-reference');
    run(events);
    run(back);
    expect(image()).toBe('genome.local/mathison-reference:v1');
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
