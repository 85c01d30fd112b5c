// The chart installed onto the local node as real pods from the locally built product image
// (imported into the node's containerd, imagePullPolicy Never): the operator and the webhook
// become Ready, the post-install self-check switches both webhook configurations to Fail only
// after a replica refused a tampered Genome, real Genome writes are checked, the operator
// verifies the admitted Genome, `helm test` passes, and `helm uninstall` leaves the CRD and the
// Genomes but no webhook configuration; a second install afterwards works.
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kubeClient, kubectl, uniqueNamespace } from '../support/cluster.ts';
import { CHART, helm } from '../support/helm.ts';
import { healthOf, mathisonContainer, tamperedTotk, totk } from './genome-fixtures.ts';
import { apply, containerPid, hasCondition, podOf, readPod, waitForPod } from './support.ts';

const release = `helm-${randomBytes(2).toString('hex')}`;
const fullname = `${release}-genome-operator`;
let ns: string;
let apps: string;

const genome = (name: string, text: string) =>
  JSON.stringify({
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: { name, namespace: apps },
    spec: { genome: JSON.parse(text) as unknown },
  });

async function install(command = 'install', extra: string[] = []): Promise<number> {
  const started = Date.now();
  const out = await helm([
    command,
    release,
    CHART,
    '--namespace',
    ns,
    '--set',
    'image.pullPolicy=Never',
    '--set',
    'webhook.bootCheckPullPolicy=Never',
    '--set',
    `selfCheck.namespace=${apps}`,
    '--wait',
    '--timeout',
    '5m',
    ...extra,
  ]);
  if (out.code !== 0) {
    const jobs = await kubectl(
      ['logs', '-n', ns, '-l', 'app.kubernetes.io/component=selfcheck', '--tail=20'],
      { allowFailure: true },
    );
    const pods = await kubectl(['get', 'pods', '-n', ns, '-o', 'wide'], { allowFailure: true });
    throw new Error(
      `helm install failed: ${out.stderr}\n${pods.stdout}\n${jobs.stdout}${jobs.stderr}`,
    );
  }
  expect(out.stdout).toContain('helm test');
  return Date.now() - started;
}

async function policies(): Promise<string[]> {
  const out = await kubectl([
    'get',
    'validatingwebhookconfiguration,mutatingwebhookconfiguration',
    fullname,
    '-o',
    'jsonpath={range .items[*]}{.webhooks[0].failurePolicy} {end}',
  ]);
  return out.stdout.trim().split(' ');
}

/** What a poller saw while `during` ran: each failurePolicy seen, and the webhook's ready replicas when Fail was first seen. */
async function watchPosture(during: Promise<unknown>) {
  const seen: string[] = [];
  let readyWhenClosed: number | undefined;
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    const out = await kubectl(
      [
        'get',
        'validatingwebhookconfiguration',
        fullname,
        '-o',
        'jsonpath={.webhooks[0].failurePolicy}',
      ],
      { allowFailure: true },
    );
    const policy = out.code === 0 ? out.stdout.trim() : 'absent';
    if (seen.at(-1) !== policy) seen.push(policy);
    if (policy === 'Fail' && readyWhenClosed === undefined) {
      const ready = await kubectl([
        'get',
        'deployment',
        `${fullname}-webhook`,
        '-n',
        ns,
        '-o',
        'jsonpath={.status.readyReplicas}',
      ]);
      readyWhenClosed = Number(ready.stdout || '0');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await during;
  return { seen, readyWhenClosed };
}

/** A client that creates Genomes one after another until stopped; counts admitted and failed writes. */
function startLoad() {
  const api = kubeClient().makeApiClient(CustomObjectsApi);
  let ok = 0;
  const failures: string[] = [];
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      try {
        await api.createNamespacedCustomObject({
          group: 'mathison.io',
          version: 'v1alpha1',
          plural: 'genomes',
          namespace: apps,
          body: {
            apiVersion: 'mathison.io/v1alpha1',
            kind: 'Genome',
            metadata: { generateName: 'load-', labels: { load: 'yes' } },
            spec: { genome: totk.genome },
          },
        });
        ok++;
      } catch (err) {
        failures.push(err instanceof Error ? err.message.slice(0, 400) : String(err));
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
      return { ok, failures };
    },
  };
}

beforeAll(async () => {
  ns = await uniqueNamespace('genome-helm');
  apps = await uniqueNamespace('helm-apps');
});

afterAll(async () => {
  await helm(['uninstall', release, '--namespace', ns, '--wait', '--timeout', '2m']);
  await kubectl(['delete', 'namespace', ns, apps, '--wait=false'], { allowFailure: true });
});

describe('helm install onto the local node', () => {
  it(
    'runs the operator and webhook from the local image, Ready, fail-closed only after the self-check',
    { timeout: 420_000 },
    async () => {
      let ms = 0;
      const posture = await watchPosture(install().then((t) => (ms = t)));
      // Registered open, switched to Fail only once a webhook replica was Ready and had refused
      // a tampered Genome (the hook's check); never Fail before.
      expect(posture.seen.filter((p) => p !== 'absent')).toEqual(['Ignore', 'Fail']);
      expect(posture.readyWhenClosed).toBeGreaterThanOrEqual(1);
      console.log(
        `helm install --wait (self-check hook included) to Ready: ${(ms / 1000).toFixed(1)} s`,
      );
      for (const [name, replicas] of [
        [fullname, 2],
        [`${fullname}-webhook`, 2],
      ] as const) {
        const out = await kubectl([
          'get',
          'deployment',
          name,
          '-n',
          ns,
          '-o',
          'jsonpath={.status.readyReplicas}',
        ]);
        expect(Number(out.stdout), name).toBe(replicas);
      }
      const images = await kubectl([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'app.kubernetes.io/instance=' + release,
        '-o',
        'jsonpath={range .items[*]}{.spec.containers[0].image} {.spec.containers[0].imagePullPolicy}{"\\n"}{end}',
      ]);
      for (const line of images.stdout.trim().split('\n'))
        expect(line).toBe('genome.local/genome-operator:v1 Never');
      // The hook switched both to Fail; its log says it saw the refusal first.
      expect(await policies()).toEqual(['Fail', 'Fail']);
      const bundle = await kubectl([
        'get',
        'validatingwebhookconfiguration',
        fullname,
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      expect(bundle.stdout.length).toBeGreaterThan(100);
      // One operator replica holds the Lease.
      const lease = await kubectl([
        'get',
        'lease',
        fullname,
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      expect(lease.stdout).toMatch(new RegExp(`^${fullname}-`));
    },
  );

  it('checks real Genome writes: the TOTK sample is admitted and verified, a tampered one refused', async () => {
    await kubectl(['create', '-f', '-'], { input: genome('totk', totk.text) });
    const refused = await kubectl(['create', '-f', '-'], {
      input: genome('tampered', tamperedTotk()),
      allowFailure: true,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      'admission webhook "genomes.mathison.io" denied the request: GENOME_INVALID_SIGNATURE',
    );
    const verified = await eventually(
      'the operator to verify the Genome',
      async () => {
        const out = await kubectl([
          'get',
          'genome',
          'totk',
          '-n',
          apps,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Verified")].status} {.status.genomeId}',
        ]);
        return out.stdout.startsWith('True ') ? out.stdout : undefined;
      },
      60_000,
    );
    expect(verified).toBe(`True ${totk.id}`);
  });

  it('injects the verified Genome into a labelled Mathison Deployment; its boot check passes', async () => {
    await apply(apps, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'mathison' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'mathison' } },
        template: {
          metadata: { labels: { app: 'mathison', 'genome.mathison.io/genome': 'totk' } },
          spec: { containers: [mathisonContainer()] },
        },
      },
    });
    const name = await podOf(apps, 'mathison');
    // The app's own probe passes on the injected genome. (The pod's Ready also waits for the
    // readiness gate genome.mathison.io/verified, which the operator does not drive yet.)
    const pod = await waitForPod(apps, name, 'containers ready', (p) =>
      hasCondition(p, 'ContainersReady'),
    );
    expect(pod.metadata?.annotations?.['genome.mathison.io/id']).toBe(totk.id);
    expect(pod.spec?.initContainers?.map((c) => [c.name, c.image])).toEqual([
      ['genome-verify', 'genome.local/genome-operator:v1'],
    ]);
    expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    const health = await healthOf(kubectl, apps, name);
    expect(health).toMatchObject({
      status: 'healthy',
      governance: { genome: { genome_id_full: totk.id, verified: true } },
    });
    await kubectl(['delete', 'deployment', 'mathison', '-n', apps, '--wait=false']);
  });

  it('passes helm test', { timeout: 180_000 }, async () => {
    const out = await helm(['test', release, '--namespace', ns, '--logs', '--timeout', '2m']);
    expect(out.code, out.stderr + out.stdout).toBe(0);
    expect(out.stdout).toMatch(/Phase:\s+Succeeded/);
    expect(out.stdout).toContain('the webhook refused a tampered Genome');
    expect(out.stdout).toContain('the webhook admitted the good Genome');
    expect(out.stdout).toContain('both webhook configurations are fail-closed');
  });

  it(
    'helm upgrade rolls the webhook pods without refusing or dropping one Genome write',
    { timeout: 420_000 },
    async () => {
      const before = await kubectl([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'app.kubernetes.io/component=webhook',
        '-o',
        'jsonpath={.items[*].metadata.name}',
      ]);
      const load = startLoad();
      const upgrade = install('upgrade', [
        '--set',
        'webhook.drainSeconds=5',
        '--set',
        'webhook.podAnnotations.rollout=two',
      ]);
      const posture = await watchPosture(upgrade);
      const { ok, failures } = await load.stop();
      const after = await kubectl([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'app.kubernetes.io/component=webhook',
        '-o',
        'jsonpath={.items[*].metadata.name}',
      ]);
      const old = before.stdout.split(' ');
      expect(after.stdout.split(' ').filter((p) => old.includes(p))).toEqual([]);
      console.log(`Genome creates during helm upgrade: ${ok} admitted, ${failures.length} failed`);
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(20);
      // The upgrade never opened the webhook (lookup kept Fail).
      expect(posture.seen).toEqual(['Fail']);
      await kubectl(['delete', 'genomes', '-n', apps, '-l', 'load=yes', '--wait=false']);
    },
  );

  it(
    'loses no Genome write when one webhook pod is killed (SIGKILL) under load',
    { timeout: 180_000 },
    async () => {
      const list = await kubectl([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'app.kubernetes.io/component=webhook',
        '-o',
        'jsonpath={.items[0].metadata.name}',
      ]);
      const victim = await readPod(ns, list.stdout.trim());
      const load = startLoad();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      process.kill(containerPid(victim), 'SIGKILL');
      // Until the kubelet has restarted it and it is Ready again, and a little after.
      await eventually(
        'the killed webhook container to restart and be Ready',
        async () => {
          const pod = await readPod(ns, victim.metadata!.name!);
          const status = pod.status?.containerStatuses?.[0];
          return (status?.restartCount ?? 0) > 0 && status?.ready ? true : undefined;
        },
        90_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const { ok, failures } = await load.stop();
      console.log(
        `Genome creates while one webhook pod was killed: ${ok} admitted, ${failures.length} failed`,
      );
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(10);
      await kubectl(['delete', 'genomes', '-n', apps, '-l', 'load=yes', '--wait=false']);
    },
  );

  it(
    'uninstalls to no webhook configuration, keeping the CRD and the Genomes; installs again',
    { timeout: 420_000 },
    async () => {
      const out = await helm([
        'uninstall',
        release,
        '--namespace',
        ns,
        '--wait',
        '--timeout',
        '2m',
      ]);
      expect(out.code, out.stderr).toBe(0);
      const configs = await kubectl([
        'get',
        'validatingwebhookconfiguration,mutatingwebhookconfiguration',
        '-l',
        `app.kubernetes.io/instance=${release}`,
        '-o',
        'name',
      ]);
      expect(configs.stdout.trim()).toBe('');
      await kubectl(['get', 'crd', 'genomes.mathison.io']);
      const kept = await kubectl(['get', 'genome', 'totk', '-n', apps, '-o', 'name']);
      expect(kept.stdout.trim()).toBe('genome.mathison.io/totk');
      // With the webhook gone, nothing blocks Genome writes (no fail-closed configuration left).
      await kubectl(['label', 'genome', 'totk', '-n', apps, 'after-uninstall=yes']);
      await install();
      expect(await policies()).toEqual(['Fail', 'Fail']);
    },
  );
});
