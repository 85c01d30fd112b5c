// `make dev` with KUBECONFIG set (here: the node tests' cluster): it installs the product with
// the Helm chart as real pods, runs the sample Mathison Deployment on the injected TOTK genome,
// prints the three trust commands for the chart's trust Secret (withdraw and restore run here),
// runs the production-mode sample (MATHISON_REFERENCE) Ready and its printed commands (the roll
// to the tampered image refused in describe and on the Genome, the roll back), and on SIGINT
// removes the samples and uninstalls the release, leaving no webhook
// configuration (the CRD stays, by design).
// The node project runs its files one at a time (fileParallelism: false in vitest.config.ts),
// so this release never shares the cluster with helm-install.test.ts's; it owns the
// GenomeTrustPolicy `default` (the harness's is deleted before and put back after:
// default-policy.ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { environmentWithoutProxies } from '../../cluster/processes.ts';
import { eventually, kubeconfigPath, kubectl } from '../support/cluster.ts';
import { helm } from '../support/helm.ts';
import {
  defaultPolicyManager,
  applyHarnessDefaultPolicy,
  yieldDefaultPolicyToChart,
} from './default-policy.ts';
import { totk } from './genome-fixtures.ts';
import { ctr, hasCondition } from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const suffix = randomBytes(2).toString('hex');
// Not created here: make dev creates it (helm --create-namespace) and so deletes it on exit.
const ns = `genome-dev-${suffix}`;
const release = `dev-${suffix}`;
const fullname = `${release}-genome-operator`;

let dev: ChildProcess;
let output = '';
let exitCode: number | null | undefined;
let importedTampered = false;
const TAMPERED = 'genome.local/mathison-reference:tampered';

const exited = () =>
  new Promise<number | null>((resolve) => {
    if (dev.exitCode !== null || dev.signalCode !== null) resolve(dev.exitCode);
    else dev.once('exit', (code) => resolve(code));
  });

beforeAll(async () => {
  await yieldDefaultPolicyToChart();
  const env = environmentWithoutProxies();
  dev = spawn(TSX, [join(ROOT, 'scripts', 'dev.ts')], {
    cwd: ROOT,
    env: { ...env, KUBECONFIG: kubeconfigPath(), GENOME_NAMESPACE: ns, GENOME_RELEASE: release },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 540_000;
  while (!output.includes('[dev] running') && dev.exitCode === null && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 500));
  if (!output.includes('[dev] running')) throw new Error(`make dev did not start:\n${output}`);
}, 600_000);

afterAll(async () => {
  if (dev.exitCode === null && dev.signalCode === null) {
    dev.kill('SIGINT');
    await exited();
  }
  // Whatever the outcome, leave nothing behind on the shared node cluster.
  await helm(['uninstall', release, '--namespace', ns, '--ignore-not-found', '--wait']);
  await kubectl(
    [
      ...['delete', '-n', 'default', '--ignore-not-found', '--wait=false'],
      ...['deployment/mathison', 'service/mathison', 'genome/totk'],
      ...['deployment/mathison-production', 'genome/mathison-reference'],
    ],
    { allowFailure: true },
  );
  if (importedTampered) ctr(['images', 'rm', TAMPERED]);
  await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false'], {
    allowFailure: true,
  });
  await applyHarnessDefaultPolicy();
}, 180_000);

describe('make dev with KUBECONFIG set', () => {
  it('installs the product with the Helm chart: a deployed release whose operator and webhook pods run', async () => {
    expect(output).toContain(`[dev] helm upgrade --install ${release}`);
    const status = await helm(['status', release, '--namespace', ns, '-o', 'json']);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { info: { status: string } }).info.status).toBe(
      'deployed',
    );
    for (const name of [fullname, `${fullname}-webhook`]) {
      const ready = await kubectl([
        ...['get', 'deployment', name, '-n', ns],
        ...[
          '-o',
          'jsonpath={.status.readyReplicas} {.metadata.labels.app\\.kubernetes\\.io/managed-by}',
        ],
      ]);
      expect(ready.stdout, name).toBe('2 Helm');
    }
    const pods = await kubectl([
      ...['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/component in (operator,webhook)'],
      ...[
        '-o',
        'jsonpath={range .items[*]}{.status.phase} {.spec.containers[0].image}{"\\n"}{end}',
      ],
    ]);
    const lines = pods.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toBe('Running genome.local/genome-operator:v1');
    // Not the local processes: no webhook configuration points at a URL, both at the chart's Service.
    const configs = await kubectl([
      ...['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', fullname],
      ...[
        '-o',
        'jsonpath={range .items[*]}{.webhooks[0].clientConfig.service.name} {.webhooks[0].failurePolicy}{"\\n"}{end}',
      ],
    ]);
    expect(configs.stdout.trim().split('\n')).toEqual([
      `${fullname}-webhook Fail`,
      `${fullname}-webhook Fail`,
    ]);
    // The release's default trust policy: test keys count (values-dev.yaml: production off).
    expect(await defaultPolicyManager()).toBe('Helm');
    const policy = await kubectl(['get', 'gtp', 'default', '-o', 'jsonpath={.spec.allowTestKeys}']);
    expect(policy.stdout).toBe('true');
  });

  it('runs the sample Deployment: two pods Ready on the injected, verified TOTK genome', async () => {
    const out = await kubectl([
      ...['get', 'pods', '-n', 'default', '-l', 'app=mathison'],
      ...[
        '-o',
        'jsonpath={range .items[*]}{.metadata.annotations.genome\\.mathison\\.io/id} {.status.conditions[?(@.type=="Ready")].status} {.spec.initContainers[0].name}{"\\n"}{end}',
      ],
    ]);
    expect(out.stdout.trim().split('\n')).toEqual([
      `${totk.id} True genome-verify`,
      `${totk.id} True genome-verify`,
    ]);
  });

  it('prints the three trust commands, for the trust Secret the chart made', () => {
    expect(output).toContain('readiness follows trust');
    expect(output).toContain(`kubectl -n ${ns} patch secret ${fullname}-test-key --type=json`);
    expect(output).toContain('kubectl -n default get pods -l app=mathison -o wide -w');
    expect(output).toContain(`kubectl -n ${ns} patch secret ${fullname}-test-key --type=merge`);
  });

  it(
    'the printed withdraw and restore commands turn the sample pods NotReady and Ready again',
    { timeout: 150_000 },
    async () => {
      const lines = output.split('\n');
      const after = (marker: string) =>
        lines[lines.findIndex((l) => l.includes(marker)) + 1]!.trim();
      const shell = after('readiness follows trust (in a shell with:');
      expect(shell).toContain(`export KUBECONFIG=${kubeconfigPath()}`);
      const run = (command: string) => {
        const done = spawnSync('bash', ['-c', `${shell}; ${command}`], {
          encoding: 'utf8',
          env: environmentWithoutProxies(),
        });
        expect(done.status, done.stderr).toBe(0);
      };
      const readiness = async () =>
        (
          await kubectl([
            ...['get', 'pods', '-n', 'default', '-l', 'app=mathison'],
            ...['-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}'],
          ])
        ).stdout;
      run(after('1. withdraw trust'));
      await eventually(
        'both sample pods NotReady',
        async () => ((await readiness()) === 'False False' ? true : undefined),
        60_000,
      );
      run(after('3. put it back'));
      await eventually(
        'both sample pods Ready again',
        async () => ((await readiness()) === 'True True' ? true : undefined),
        60_000,
      );
    },
  );

  it('runs the production-mode sample: its pod checks its own image at boot and turns Ready', async () => {
    // Ready again after the trust test's withdraw and restore (the TEST key signs it too).
    const pod = await eventually(
      'the production sample pod Ready',
      async () => {
        const pods = await kubectl([
          ...['get', 'pods', '-n', 'default', '-l', 'app=mathison-production', '-o', 'json'],
        ]);
        const items = JSON.parse(pods.stdout).items as V1Pod[];
        return items.length === 1 && hasCondition(items[0]!, 'Ready') ? items[0] : undefined;
      },
      60_000,
    );
    const volume = pod.spec?.volumes?.find((v) => v.image !== undefined);
    expect(volume?.image?.reference).toBe('genome.local/mathison-reference:v1');
    const check = pod.status?.initContainerStatuses?.find((c) => c.name === 'genome-verify');
    expect(check?.state?.terminated?.exitCode).toBe(0);
    const verified = await kubectl([
      ...['get', 'gn', 'mathison-reference', '-n', 'default'],
      ...['-o', 'jsonpath={.status.conditions[?(@.type=="Verified")].status}'],
    ]);
    expect(verified.stdout).toBe('True');
  });

  it(
    'the printed production commands roll to the tampered image, show the refusal in describe and on the Genome, and roll back',
    { timeout: 300_000 },
    async () => {
      const lines = output.split('\n');
      const after = (marker: string) =>
        lines[lines.findIndex((l) => l.includes(marker)) + 1]!.trim();
      // Neither the local node dev started nor kind: dev printed the import; do it on the node.
      const archive = lines.find(
        (l) => l.includes('ctr -n k8s.io images import') && l.includes('-tampered.tar'),
      );
      expect(archive, output).toBeDefined();
      ctr(['images', 'import', '--platform', 'linux/amd64', archive!.trim().split(' ').pop()!]);
      importedTampered = true;
      const shell = `${after('readiness follows trust (in a shell with:')}; ${after('with the genome CLI as kubectl genome:')}`;
      const run = (command: string) => {
        const done = spawnSync('bash', ['-c', `${shell}; ${command}`], {
          encoding: 'utf8',
          env: environmentWithoutProxies(),
        });
        expect(done.status, `${command}: ${done.stderr}`).toBe(0);
        return done.stdout;
      };
      run(after('4. roll the production sample'));
      const refused = async () => {
        const got = await kubectl([
          ...['get', 'pods', '-n', 'default', '-l', 'app=mathison-production', '-o', 'json'],
        ]);
        return (JSON.parse(got.stdout).items as V1Pod[]).find((p) => {
          const check = p.status?.initContainerStatuses?.find((c) => c.name === 'genome-verify');
          return (check?.state?.terminated ?? check?.lastState?.terminated)?.exitCode === 1;
        });
      };
      const pod = await eventually('the tampered pod refused by its boot check', refused, 120_000);
      expect(pod.spec?.containers[0]?.image).toBe(TAMPERED);
      expect(hasCondition(pod, 'Ready')).toBe(false);
      const describe = run(after('5. see the refusal'));
      expect(describe).toContain('GENOME_MANIFEST_MISMATCH');
      expect(describe).toContain('packages/mathison-reference/dist/health.js');
      const status = after("the Genome's Warning Event");
      const events = lines[lines.findIndex((l) => l.includes(status)) + 1]!.trim();
      await eventually(
        'the Warning Event on the Genome',
        async () => (run(events).includes('GENOME_MANIFEST_MISMATCH') ? true : undefined),
        60_000,
      );
      expect(run(status)).toContain('GENOME_MANIFEST_MISMATCH');
      run(after('6. roll back'));
      await eventually(
        'the production sample back on the pinned image, one pod Ready',
        async () => {
          const got = await kubectl([
            ...['get', 'pods', '-n', 'default', '-l', 'app=mathison-production'],
            ...[
              '-o',
              'jsonpath={range .items[*]}{.spec.containers[0].image} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
            ],
          ]);
          return got.stdout.trim() === 'genome.local/mathison-reference:v1 True' ? true : undefined;
        },
        120_000,
      );
    },
  );

  it(
    'on SIGINT removes the sample and uninstalls the release: no webhook configuration left, the CRD kept',
    { timeout: 240_000 },
    async () => {
      dev.kill('SIGINT');
      exitCode = await exited();
      expect(exitCode, output).toBe(0);
      expect(output).toContain('the chart keeps the CRD genomes.mathison.io by design');
      const status = await helm(['status', release, '--namespace', ns]);
      expect(status.code).not.toBe(0);
      expect(status.stderr).toContain('not found');
      const configs = await kubectl([
        ...['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration'],
        ...['-l', `app.kubernetes.io/instance=${release}`, '-o', 'name'],
      ]);
      expect(configs.stdout.trim()).toBe('');
      const sample = await kubectl([
        'get',
        '-n',
        'default',
        'deployment/mathison',
        'service/mathison',
        'genome/totk',
        'deployment/mathison-production',
        'genome/mathison-reference',
        '-o',
        'name',
        '--ignore-not-found',
      ]);
      expect(sample.stdout.trim()).toBe('');
      const namespace = await kubectl([
        'get',
        'namespace',
        ns,
        '-o',
        'jsonpath={.status.phase}',
        '--ignore-not-found',
      ]);
      expect(['', 'Terminating']).toContain(namespace.stdout.trim());
      await kubectl(['get', 'crd', 'genomes.mathison.io']);
    },
  );
});
