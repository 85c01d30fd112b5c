// The chart installed onto the local node as real pods from the locally built product image
// (imported into the node's containerd, imagePullPolicy Never), with values-dev.yaml (the TEST
// key): the operator and the webhook become Ready with both webhook configurations Fail from
// the start (the default posture) and the webhook's TLS Secret filled without a right to create
// Secrets, real Genome writes are checked, the operator verifies the admitted Genome and keeps
// a pod's gate under the chart's admission policies, `helm test` passes, an upgrade, a rollback
// to the first revision and a `helm template | kubectl apply` never open the webhooks, and
// `helm uninstall` leaves the CRD and the Genomes but no webhook configuration; a second
// install afterwards, in the selfCheck posture, switches to Fail only after a replica refused
// a tampered Genome. The release owns the GenomeTrustPolicy `default` (the harness's is
// deleted before the install and put back after the uninstall: default-policy.ts).
import { randomBytes } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kubeClient, kubectl, uniqueNamespace } from '../support/cluster.ts';
import { CHART, DEV_VALUES, helm } from '../support/helm.ts';
import { healthOf, mathisonContainer, tamperedTotk, totk } from './genome-fixtures.ts';
import {
  defaultPolicyManager,
  applyHarnessDefaultPolicy,
  yieldDefaultPolicyToChart,
} from './default-policy.ts';
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
    // The TEST key trusted, production off: the chart's defaults trust no key.
    '--values',
    DEV_VALUES,
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

/**
 * A client that creates Genomes one after another until stopped. Counts admitted writes and
 * failed attempts; with `retries`, a failed write is tried again (up to that many times, 250 ms
 * apart, as a controller would) and is lost only when every try failed.
 */
function startLoad(retries = 0) {
  const api = kubeClient().makeApiClient(CustomObjectsApi);
  let ok = 0;
  const failures: string[] = [];
  const lost: string[] = [];
  let stopped = false;
  const create = () =>
    api.createNamespacedCustomObject({
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
  const running = (async () => {
    while (!stopped) {
      for (let attempt = 0; ; attempt++) {
        try {
          await create();
          ok++;
          break;
        } catch (err) {
          const text = err instanceof Error ? err.message.slice(0, 1000) : String(err);
          failures.push(text);
          if (attempt >= retries) {
            lost.push(text);
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
      return { ok, failures, lost };
    },
  };
}

beforeAll(async () => {
  ns = await uniqueNamespace('genome-helm');
  apps = await uniqueNamespace('helm-apps');
  // The cluster as the node tests that run an operator of their own leave it, whichever ran
  // before: the harness's default policy, which the release must take over.
  await applyHarnessDefaultPolicy();
  await yieldDefaultPolicyToChart();
});

afterAll(async () => {
  await helm(['uninstall', release, '--namespace', ns, '--wait', '--timeout', '2m']);
  await applyHarnessDefaultPolicy();
  await kubectl(['delete', 'namespace', ns, apps, '--wait=false'], { allowFailure: true });
});

describe('helm install onto the local node', () => {
  it(
    'runs the operator and webhook from the local image, Ready, fail-closed from the start (the default posture)',
    { timeout: 420_000 },
    async () => {
      let ms = 0;
      const posture = await watchPosture(install().then((t) => (ms = t)));
      // failClosed: never Ignore, not even before the first replica answered; the install
      // returned once the hook saw a replica refuse a tampered Genome.
      expect(posture.seen.filter((p) => p !== 'absent')).toEqual(['Fail']);
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
      expect(await policies()).toEqual(['Fail', 'Fail']);
      const bundle = await kubectl([
        'get',
        'validatingwebhookconfiguration',
        fullname,
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      expect(bundle.stdout.length).toBeGreaterThan(100);
      // The chart made the TLS Secret empty and the webhook, which may not create Secrets,
      // filled it.
      const tls = await kubectl([
        ...['get', 'secret', 'genome-webhook-tls', '-n', ns],
        ...['-o', 'jsonpath={.type} {.metadata.labels.app\\.kubernetes\\.io/managed-by}'],
      ]);
      expect(tls.stdout).toBe('Opaque Helm');
      const cert = await kubectl([
        ...['get', 'secret', 'genome-webhook-tls', '-n', ns, '-o', 'jsonpath={.data.tls\\.crt}'],
      ]);
      expect(cert.stdout.length).toBeGreaterThan(100);
      // The self-check's account and rights went with the hook.
      const leftovers = await kubectl([
        ...['get', 'serviceaccount,role,rolebinding', '-A', '-o', 'name'],
        ...['--field-selector', `metadata.name=${fullname}-selfcheck`],
      ]);
      expect(leftovers.stdout.trim()).toBe('');
      const cluster = await kubectl(
        ['get', 'clusterrole,clusterrolebinding', `${fullname}-selfcheck`, '-o', 'name'],
        { allowFailure: true },
      );
      expect(cluster.stdout.trim()).toBe('');
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
      // The release's default trust policy: test keys count (values-dev.yaml: production off).
      expect(await defaultPolicyManager()).toBe('Helm');
      const policy = await kubectl([
        ...['get', 'gtp', 'default', '-o'],
        'jsonpath={.spec.mode} {.spec.allowTestKeys} {.metadata.annotations.meta\\.helm\\.sh/release-name}',
      ]);
      expect(policy.stdout).toBe(`Enforce true ${release}`);
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

  it('injects the verified Genome into a labelled Mathison Deployment: Ready, NotReady after a revocation, Ready again', async () => {
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
    // Ready: the app's probe passes on the injected genome and the operator opened the gate.
    const pod = await waitForPod(apps, name, 'Ready', (p) => hasCondition(p, 'Ready'));
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
    // Revocation: the chart's trust Secret loses the key; the pod goes NotReady (same
    // container, no restart), and is Ready again when the key is back.
    const secret = `${fullname}-test-key`;
    const key = 'TEST-ONLY-totk-key-001';
    const value = (
      await kubectl(['get', 'secret', secret, '-n', ns, '-o', `jsonpath={.data.${key}}`])
    ).stdout;
    await kubectl([
      'patch',
      'secret',
      secret,
      '-n',
      ns,
      '--type=json',
      '-p',
      `[{"op":"remove","path":"/data/${key}"}]`,
    ]);
    await waitForPod(apps, name, 'NotReady after the revocation', (p) => !hasCondition(p, 'Ready'));
    await kubectl([
      'patch',
      'secret',
      secret,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ data: { [key]: value } }),
    ]);
    const back = await waitForPod(apps, name, 'Ready again', (p) => hasCondition(p, 'Ready'));
    expect(back.status?.containerStatuses?.[0]?.restartCount).toBe(0);
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
      // helm --wait returns once the new pods are available; the old ones are still draining.
      // Keep writing until every old pod is gone.
      const old = before.stdout.split(' ');
      await eventually(
        'every old webhook pod to be gone',
        async () => {
          const now = await kubectl([
            'get',
            'pods',
            '-n',
            ns,
            '-l',
            'app.kubernetes.io/component=webhook',
            '-o',
            'jsonpath={.items[*].metadata.name}',
          ]);
          return now.stdout.split(' ').some((p) => old.includes(p)) ? undefined : true;
        },
        90_000,
      );
      const { ok, failures } = await load.stop();
      console.log(`Genome creates during helm upgrade: ${ok} admitted, ${failures.length} failed`);
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(20);
      // The upgrade never opened the webhook (lookup kept Fail).
      expect(posture.seen).toEqual(['Fail']);
      await kubectl(['delete', 'genomes', '-n', apps, '-l', 'load=yes', '--wait=false']);
    },
  );

  it(
    'helm rollback to the first revision leaves the webhooks Fail throughout',
    { timeout: 420_000 },
    async () => {
      const rollback = helm([
        ...['rollback', release, '1', '--namespace', ns, '--wait', '--timeout', '5m'],
      ]);
      const posture = await watchPosture(rollback);
      const out = await rollback;
      expect(out.code, out.stderr).toBe(0);
      console.log(
        `failurePolicy seen during helm rollback to revision 1: ${posture.seen.join(' -> ')}`,
      );
      expect(posture.seen.at(-1)).toBe('Fail');
      expect(await policies()).toEqual(['Fail', 'Fail']);
      expect(posture.seen).toEqual(['Fail']);
    },
  );

  it(
    'a plain helm template | kubectl apply of a later revision (as GitOps renders, without lookup) keeps Fail and the TLS Secret',
    { timeout: 300_000 },
    async () => {
      const rendered = await helm([
        ...['template', release, CHART, '--namespace', ns, '--no-hooks'],
        ...['--set', 'image.pullPolicy=Never', '--set', 'webhook.bootCheckPullPolicy=Never'],
        ...['--set', `selfCheck.namespace=${apps}`, '--values', DEV_VALUES],
        ...['--set', 'webhook.podAnnotations.rollout=gitops'],
      ]);
      expect(rendered.code, rendered.stderr).toBe(0);
      expect(rendered.stdout).not.toContain('failurePolicy: Ignore');
      const before = await kubectl([
        ...['get', 'secret', 'genome-webhook-tls', '-n', ns, '-o', 'jsonpath={.data.tls\\.crt}'],
      ]);
      const apply = kubectl(['apply', '-f', '-'], { input: rendered.stdout });
      const posture = await watchPosture(apply);
      expect(posture.seen).toEqual(['Fail']);
      await kubectl([
        ...['rollout', 'status', 'deployment', `${fullname}-webhook`, '-n', ns, '--timeout=180s'],
      ]);
      // The empty Secret of the chart did not empty the webhook's: same certificate.
      const after = await kubectl([
        ...['get', 'secret', 'genome-webhook-tls', '-n', ns, '-o', 'jsonpath={.data.tls\\.crt}'],
      ]);
      expect(after.stdout).toBe(before.stdout);
      expect(await policies()).toEqual(['Fail', 'Fail']);
      // And it still checks: a tampered Genome is refused by the webhook.
      const refused = await kubectl(['create', '--dry-run=server', '-f', '-'], {
        input: genome('tampered-gitops', tamperedTotk()),
        allowFailure: true,
      });
      expect(refused.stderr).toContain('GENOME_INVALID_SIGNATURE');
    },
  );

  it(
    'loses no retried Genome write when one webhook pod is killed (SIGKILL) under load',
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
        'jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.name} {.metadata.deletionTimestamp}{"\\n"}{end}',
      ]);
      // A running webhook pod that is not being deleted.
      const live = list.stdout
        .split('\n')
        .find((l) => l.trim() !== '' && l.trim().split(' ').length === 1);
      if (live === undefined) throw new Error(`no live webhook pod: ${list.stdout}`);
      const victim = await readPod(ns, live.trim());
      const load = startLoad(5);
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
      const { ok, failures, lost } = await load.stop();
      console.log(
        `Genome creates while one webhook pod was killed: ${ok} admitted, ${failures.length} attempts failed, ${lost.length} lost after 5 retries`,
      );
      // Until the endpoints drop the dead pod, the API server may dial it, or write on a
      // connection to it, and fail at the transport (connection refused or reset, broken pipe,
      // EOF), which it does not retry itself: the client sees a 500 and tries again. Nothing
      // else may fail (no TLS error, no wrong refusal), and no write is lost.
      for (const f of failures)
        expect(f).toMatch(
          /failed calling webhook \\+"genomes.mathison.io\\+".*(connection refused|connection reset|broken pipe|EOF)/,
        );
      expect(lost).toEqual([]);
      expect(ok).toBeGreaterThan(10);
      await kubectl(['delete', 'genomes', '-n', apps, '-l', 'load=yes', '--wait=false']);
    },
  );

  it(
    'with every pod gone, fails closed; the break-glass patch of docs/install.md opens it',
    { timeout: 180_000 },
    async () => {
      for (const name of [fullname, `${fullname}-webhook`])
        await kubectl(['scale', 'deployment', name, '-n', ns, '--replicas=0']);
      await eventually(
        'every operator and webhook pod to be gone',
        async () => {
          const out = await kubectl([
            'get',
            'pods',
            '-n',
            ns,
            '-l',
            'app.kubernetes.io/component in (operator,webhook)',
            '-o',
            'name',
          ]);
          return out.stdout.trim() === '' ? true : undefined;
        },
        90_000,
      );
      const closed = await kubectl(['create', '-f', '-'], {
        input: genome('while-down', totk.text),
        allowFailure: true,
      });
      expect(closed.code).not.toBe(0);
      expect(closed.stderr).toContain('failed calling webhook "genomes.mathison.io"');
      // docs/install.md, "Break glass", step 2.
      const open = '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]';
      for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration'])
        await kubectl(['patch', kind, fullname, '--type=json', '-p', open]);
      await kubectl(['create', '-f', '-'], { input: genome('while-down', totk.text) });
      await kubectl(['delete', 'genome', 'while-down', '-n', apps]);
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
      // Helm needs no running operator or webhook to uninstall (no hooks, no finalizers).
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
      await kubectl(['get', 'crd', 'genomes.mathison.io', 'genometrustpolicies.mathison.io']);
      // The release's default trust policy went with it (docs/install.md, "Uninstall").
      expect(await defaultPolicyManager()).toBeUndefined();
      const kept = await kubectl(['get', 'genome', 'totk', '-n', apps, '-o', 'name']);
      expect(kept.stdout.trim()).toBe('genome.mathison.io/totk');
      // With the webhook gone, nothing blocks Genome writes (no fail-closed configuration left).
      await kubectl(['label', 'genome', 'totk', '-n', apps, 'after-uninstall=yes']);
      // Again in the selfCheck posture: registered open, switched to Fail only once a webhook
      // replica was Ready and had refused a tampered Genome (the hook's check); never Fail before.
      const posture = await watchPosture(
        install('install', ['--set', 'webhook.installPosture=selfCheck']),
      );
      expect(posture.seen.filter((p) => p !== 'absent')).toEqual(['Ignore', 'Fail']);
      expect(posture.readyWhenClosed).toBeGreaterThanOrEqual(1);
      expect(await policies()).toEqual(['Fail', 'Fail']);
    },
  );
});
