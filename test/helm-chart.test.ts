// The Helm chart (charts/genome-operator) against the real API server: helm lint, helm
// template for the default values and for the production-style values file accepted by
// `kubectl apply --dry-run=server` (in a namespace that enforces the restricted Pod Security
// Standard), the webhook configurations equal to core/webhook-config.ts, the operator's RBAC
// equal to config/rbac/operator.yaml, the install posture's lookup, least privilege proven with
// `kubectl auth can-i --as` and with real writes made as the operator's ServiceAccount against
// the chart's ValidatingAdmissionPolicies, and values refused by values.schema.json.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTrustPolicy } from '../core/trust-policy-schema.ts';
import { genomeWebhookConfiguration, podWebhookConfiguration } from '../core/webhook-config.ts';
import { PooledKubeConfig } from '../kube/kubeconfig.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import { CHART, DEV_VALUES, helm, pick, template, type Rendered } from './support/helm.ts';

const ROOT = join(import.meta.dirname, '..');
const PRODUCTION_VALUES = join(CHART, 'ci', 'production-values.yaml');
/** Every escape hatch of docs/install.md ("Chart values") at once. */
const ESCAPE_HATCHES_VALUES = join(CHART, 'ci', 'escape-hatches-values.yaml');
/** Kinds whose CRDs (Prometheus Operator, cert-manager) the test cluster does not have. */
const FOREIGN_KINDS = new Set(['ServiceMonitor', 'PrometheusRule', 'Certificate', 'Issuer']);
const cleanups: (() => Promise<unknown>)[] = [];

/**
 * kubectl apply --dry-run=server of the rendered objects; returns kubectl's stderr (warnings).
 * The ServiceAccounts are created for real first: a pod naming a service account that does not
 * exist is refused, and a dry run creates nothing for later objects to find.
 */
async function dryRunApply(objects: Rendered[]): Promise<string> {
  const items = objects.filter((o) => !FOREIGN_KINDS.has(o.kind));
  const accounts = items.filter((o) => o.kind === 'ServiceAccount');
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: accounts }),
  });
  const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  });
  const applied = out.stdout.trim().split('\n');
  expect(applied).toHaveLength(items.length);
  return out.stderr;
}

/** A namespace that enforces the restricted Pod Security Standard. */
async function restrictedNamespace(prefix: string): Promise<string> {
  const ns = await uniqueNamespace(prefix);
  cleanups.push(() => kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true }));
  await kubectl([
    'label',
    'namespace',
    ns,
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/warn=restricted',
  ]);
  return ns;
}

/** Deletes the release's cluster-scoped objects after the test. */
function cleanupClusterScoped(release: string): void {
  cleanups.push(() =>
    kubectl(
      [
        'delete',
        'clusterrole,clusterrolebinding,validatingwebhookconfiguration,mutatingwebhookconfiguration,validatingadmissionpolicy,validatingadmissionpolicybinding',
        '-l',
        `app.kubernetes.io/instance=${release}`,
        '--ignore-not-found',
      ],
      { allowFailure: true },
    ),
  );
}

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('helm lint and helm template', () => {
  it('lints clean with the default values and with the production-style values file', async () => {
    const plain = await helm(['lint', CHART, '--strict']);
    expect(plain.stderr + plain.stdout).toContain('0 chart(s) failed');
    expect(plain.code).toBe(0);
    const production = await helm(['lint', CHART, '--strict', '-f', PRODUCTION_VALUES]);
    expect(production.code).toBe(0);
    const dev = await helm(['lint', CHART, '--strict', '-f', DEV_VALUES]);
    expect(dev.code).toBe(0);
  });

  it('allows no injection opt-out by default, on the webhook and the operator alike, and caps the webhook heap', async () => {
    const env = (objects: Rendered[], name: string) =>
      (
        pick(objects, 'Deployment', name).spec as {
          template: {
            spec: { containers: { args: string[]; env: { name: string; value?: string }[] }[] };
          };
        }
      ).template.spec.containers[0]!;
    const optOut = { name: 'GENOME_ALLOW_INJECTION_OPT_OUT', value: 'false' };
    const defaults = await template('genome-operator', 'genome-system');
    for (const name of ['genome-operator', 'genome-operator-webhook'])
      expect(env(defaults, name).env).toContainEqual(optOut);
    // Large freed buffers go back to the system (docs/benchmarks.md, caches.bench).
    expect(env(defaults, 'genome-operator').env).toContainEqual({
      name: 'MALLOC_MMAP_THRESHOLD_',
      value: '131072',
    });
    expect(env(defaults, 'genome-operator-webhook').args).toEqual([
      '--max-semi-space-size=4',
      '--max-old-space-size=112',
      '/app/webhook.mjs',
    ]);
    const allowed = await template('genome-operator', 'genome-system', [
      '--set',
      'podInjection.allowOptOut=true',
    ]);
    for (const name of ['genome-operator', 'genome-operator-webhook'])
      expect(env(allowed, name).env).toContainEqual({ ...optOut, value: 'true' });
  });

  it('installs by default in production mode trusting no key; only values-dev.yaml trusts the TEST key', async () => {
    const envOf = (objects: Rendered[], name: string) =>
      (
        pick(objects, 'Deployment', name).spec as {
          template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
        }
      ).template.spec.containers[0]!.env;
    const trusted = (objects: Rendered[]) =>
      objects
        .filter((o) => o.metadata.labels?.['genome.mathison.io/trusted-keys'] === 'true')
        .map((o) => o.metadata.name);
    const defaults = await template('genome-operator', 'genome-system');
    expect(envOf(defaults, 'genome-operator')).toContainEqual({
      name: 'GENOME_PRODUCTION',
      value: 'true',
    });
    expect(trusted(defaults)).toEqual([]);
    // Nothing signed by a trusted key to admit: the self-check checks only the refusal.
    const job = pick(defaults, 'Job') as unknown as {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    expect(job.spec.template.spec.containers[0]!.env).toContainEqual({
      name: 'GENOME_SELFCHECK_EXPECT_GOOD',
      value: 'false',
    });
    const dev = await template('genome-operator', 'genome-system', ['-f', DEV_VALUES]);
    expect(envOf(dev, 'genome-operator')).toContainEqual({
      name: 'GENOME_PRODUCTION',
      value: 'false',
    });
    expect(trusted(dev)).toEqual(['genome-operator-test-key']);
    // NOTES.txt says how to trust a key, and warns only when the TEST key is trusted.
    const notes = await helm(['install', 'x', CHART, '-n', 'genome-system', '--dry-run=client']);
    expect(notes.code, notes.stderr).toBe(0);
    expect(notes.stdout).toContain('genome.mathison.io/trusted-keys=true');
    expect(notes.stdout).not.toContain('TEST key is trusted');
    // With the genome CLI, not a clone's scripts.
    expect(notes.stdout).toContain('genome keygen my-key-001');
    expect(notes.stdout).toContain('kubectl genome check');
    expect(notes.stdout).not.toContain('npx tsx scripts/');
    const devNotes = await helm([
      ...['install', 'x', CHART, '-n', 'genome-system', '--dry-run=client'],
      ...['-f', DEV_VALUES],
    ]);
    expect(devNotes.stdout).toContain('TEST key is trusted');
  });

  it('NOTES.txt names the trust Secrets made by hand before the install (lookup), and then does not say none is trusted', async () => {
    const ns = await uniqueNamespace('notes');
    await kubectl(['create', 'secret', 'generic', 'my-keys', '-n', ns, '--from-literal=k=v']);
    await kubectl(['label', 'secret', 'my-keys', '-n', ns, 'genome.mathison.io/trusted-keys=true']);
    const notes = await helm([
      ...['install', 'x', CHART, '-n', ns, '--dry-run=server'],
      // The harness's `default` policy exists (not Helm's): the chart must not render its own.
      ...['--set', 'selfCheck.namespace=default', '--set', 'trustPolicies.createDefault=false'],
    ]);
    expect(notes.code, notes.stderr).toBe(0);
    expect(notes.stdout).toContain(`Trust Secrets found in ${ns}: my-keys.`);
    expect(notes.stdout).not.toContain('None is trusted yet');
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('names the image by digest everywhere, the injected boot check included, when image.digest is set', async () => {
    const digest = `sha256:${'ab12'.repeat(16)}`;
    const objects = await template('genome-operator', 'genome-system', [
      ...['--set', `image.digest=${digest}`],
    ]);
    const expected = `genome.local/genome-operator@${digest}`;
    const images = objects.flatMap((o) => {
      const spec =
        (o.spec as { template?: { spec?: unknown } } | undefined)?.template?.spec ?? o.spec;
      const containers = (spec as { containers?: { image: string }[] } | undefined)?.containers;
      return (containers ?? []).map((c) => c.image);
    });
    expect(images.length).toBeGreaterThanOrEqual(4);
    expect(new Set(images)).toEqual(new Set([expected]));
    const webhook = pick(objects, 'Deployment', 'genome-operator-webhook').spec as {
      template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
    };
    expect(webhook.template.spec.containers[0]!.env).toContainEqual({
      name: 'GENOME_BOOT_CHECK_IMAGE',
      value: expected,
    });
    const refused = await helm([
      ...['template', 'x', CHART, '-n', 'genome-system'],
      ...['--set', 'image.digest=latest'],
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("at '/image/digest'");
  });

  it('gives the operator a PodDisruptionBudget when it runs more than one replica', async () => {
    const objects = await template('genome-operator', 'genome-system');
    const pdb = pick(objects, 'PodDisruptionBudget', 'genome-operator') as unknown as {
      spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.minAvailable).toBe(1);
    const operator = pick(objects, 'Deployment', 'genome-operator') as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    expect(operator.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
    const single = await template('genome-operator', 'genome-system', [
      ...['--set', 'operator.replicas=1', '--set', 'operator.leaderElection=false'],
    ]);
    expect(
      single.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name),
    ).toEqual(['genome-operator-webhook']);
  });

  it('renders default values that the API server accepts, restricted Pod Security included', async () => {
    const ns = await restrictedNamespace('helm-default');
    const objects = await template('genome-operator', ns, ['--include-crds']);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'CustomResourceDefinition',
      'Deployment',
      'Service',
      'PodDisruptionBudget',
      'PriorityClass',
      'NetworkPolicy',
      'ValidatingWebhookConfiguration',
      'MutatingWebhookConfiguration',
      'ServiceAccount',
      'ClusterRole',
      'Role',
      'Secret',
      'Job',
      'Pod',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ])
      expect(kinds).toContain(kind);
    const warnings = await dryRunApply(objects);
    expect(warnings).not.toMatch(/PodSecurity|violate/);
  });

  it('renders the production-style values file that the API server accepts', async () => {
    const ns = await restrictedNamespace('helm-production');
    const objects = await template('genome-operator', ns, ['-f', PRODUCTION_VALUES]);
    const operator = pick(objects, 'Deployment', 'genome-operator');
    const env = (
      operator.spec as {
        template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
      }
    ).template.spec.containers[0]!.env;
    expect(env).toContainEqual({ name: 'GENOME_PRODUCTION', value: 'true' });
    expect(objects.some((o) => o.metadata.name === 'genome-operator-test-key')).toBe(false);
    const webhook = pick(objects, 'Deployment', 'genome-operator-webhook') as unknown as {
      spec: { replicas: number };
    };
    expect(webhook.spec.replicas).toBe(3);
    const warnings = await dryRunApply(objects);
    expect(warnings).not.toMatch(/PodSecurity|violate/);
    // The ServiceMonitor and PrometheusRule are rendered (their CRDs are not on this cluster, so
    // the API server cannot check them): each alert names a metric the operator or the webhook exports.
    pick(objects, 'ServiceMonitor', 'genome-operator');
    pick(objects, 'ServiceMonitor', 'genome-operator-webhook');
    const rule = pick(objects, 'PrometheusRule') as unknown as {
      spec: { groups: { rules: { alert: string; expr: string }[] }[] };
    };
    const metricsSource = ['operator', 'webhook']
      .map((dir) => readFileSync(join(ROOT, dir, 'metrics.ts'), 'utf8'))
      .join('\n');
    for (const r of rule.spec.groups[0]!.rules) {
      // A histogram's series (_bucket, _count, _sum) are named after it.
      const metric = /\b(genome_[a-z_]+?)(_bucket|_count|_sum)?\{/.exec(r.expr)?.[1];
      expect(metric, r.alert).toBeDefined();
      expect(metricsSource, `${r.alert} uses ${metric}`).toContain(`name: '${metric}'`);
    }
  });

  it('renders every escape hatch at once (ci/escape-hatches-values.yaml), which the API server accepts, restricted Pod Security included', async () => {
    const ns = await restrictedNamespace('helm-hatches');
    const objects = await template('genome-operator', ns, ['-f', ESCAPE_HATCHES_VALUES]);
    const warnings = await dryRunApply(objects);
    expect(warnings).not.toMatch(/PodSecurity|violate/);
    // hostNetwork is outside the restricted standard (and the baseline): a plain namespace.
    const plain = await uniqueNamespace('helm-hostnet');
    cleanups.push(() =>
      kubectl(['delete', 'namespace', plain, '--wait=false'], { allowFailure: true }),
    );
    const hostNetwork = await template('genome-operator', plain, [
      '-f',
      ESCAPE_HATCHES_VALUES,
      '--set',
      'webhook.hostNetwork=true',
    ]);
    await dryRunApply(hostNetwork);
  });

  it('renders cert-manager mode with files TLS, the mounted Secret and the CA injection annotation', async () => {
    const ns = await restrictedNamespace('helm-certmanager');
    const objects = await template('genome-operator', ns, [
      '--set',
      'webhook.tls.mode=certManager',
    ]);
    const config = pick(objects, 'ValidatingWebhookConfiguration');
    expect(config.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': `${ns}/genome-operator-webhook-ca`,
    });
    pick(objects, 'Certificate', 'genome-operator-webhook');
    const role = pick(objects, 'Role', 'genome-operator-webhook') as unknown as {
      rules: { verbs: string[]; resources: string[] }[];
    };
    // No TLS Secret writes when cert-manager owns it.
    expect(
      role.rules.filter((r) => r.resources.includes('secrets')).flatMap((r) => r.verbs),
    ).toEqual(['list', 'watch']);
    await dryRunApply(objects);
  });
});

describe('the PrometheusRule', () => {
  interface Rule {
    alert: string;
    expr: string;
    for?: string;
    annotations: Record<string, string>;
  }
  const rulesOf = async (args: string[] = []): Promise<Rule[]> => {
    const objects = await template('genome-operator', 'genome-system', [
      '-f',
      PRODUCTION_VALUES,
      ...args,
    ]);
    const rule = pick(objects, 'PrometheusRule') as unknown as {
      spec: { groups: { rules: Rule[] }[] };
    };
    return rule.spec.groups.flatMap((g) => g.rules);
  };
  /** The anchors of docs/alerts.md's headings, as GitHub makes them. */
  const anchors = () =>
    readFileSync(join(ROOT, 'docs', 'alerts.md'), 'utf8')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) =>
        l
          .replace(/^#+ /, '')
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 _-]/g, '')
          .replace(/ /g, '-'),
      );

  it('gives each alert a runbook_url into docs/alerts.md, at a section of its own that exists', async () => {
    const rules = await rulesOf();
    const headings = anchors();
    for (const r of rules) {
      const url = r.annotations.runbook_url ?? '';
      expect(url, r.alert).toMatch(/^docs\/alerts\.md#[a-z0-9-]+$/);
      expect(headings, `${r.alert}: ${url}`).toContain(url.split('#')[1]);
      expect(url.split('#')[1]).toBe(r.alert.toLowerCase());
    }
    // And every alert docs/alerts.md describes is one the chart raises.
    const documented = headings.filter((h) => h.startsWith('genome'));
    expect(documented.sort()).toEqual(rules.map((r) => r.alert.toLowerCase()).sort());
  });

  it('puts runbook_url under the docs address given in metrics.prometheusRule.runbookBaseUrl', async () => {
    const base = 'https://git.example.com/platform/genome-operator/-/blob/v1/docs/alerts.md';
    const rules = await rulesOf(['--set', `metrics.prometheusRule.runbookBaseUrl=${base}`]);
    for (const r of rules)
      expect(r.annotations.runbook_url).toBe(`${base}#${r.alert.toLowerCase()}`);
  });

  it('alerts on state, not on counters of verifications (which clear while Genomes stay refused)', async () => {
    const rules = new Map((await rulesOf()).map((r) => [r.alert, r]));
    for (const r of rules.values())
      expect(r.expr, r.alert).not.toContain('genome_verifications_total');
    expect(rules.get('GenomeNotVerified')?.expr).toMatch(
      /genome_condition\{condition="Verified",status="False"\}.*== 1/,
    );
    expect(rules.get('GenomeNotVerified')?.for).toBe('5m');
    // Each Genome that time alone will refuse (the operator's TrustExpiring condition).
    expect(rules.get('GenomeTrustExpiring')?.expr).toMatch(
      /genome_condition\{condition="TrustExpiring",status="True"\}.*== 1/,
    );
    expect(rules.get('GenomeTrustKeysExpiringSoon')?.expr).toContain(
      'genome_trusted_key_expiration_timestamp_seconds',
    );
    expect(rules.get('GenomeTrustKeysExpiringSoon')?.expr).toContain(`${7 * 86400}`);
    // No operator at all (every replica gone) is not silence: GenomeNoLeader cannot fire then.
    expect(rules.get('GenomeOperatorAbsent')?.expr).toMatch(
      /^absent\(genome_operator_build_info\{/,
    );
    expect(rules.get('GenomeWebhookAbsent')?.expr).toMatch(/^absent\(genome_webhook_build_info\{/);
    expect(rules.get('GenomeNoLeader')).toBeDefined();
    // Answers later than the API server's timeout (the chart's 5 s), which it refused.
    expect(rules.get('GenomeAdmissionTooSlow')?.expr).toContain(
      'genome_webhook_admission_duration_seconds_bucket{',
    );
    expect(rules.get('GenomeAdmissionTooSlow')?.expr).toContain('le="5"');
  });

  it("keeps the metrics' own namespace and endpoint labels (honorLabels on both ServiceMonitors)", async () => {
    const objects = await template('genome-operator', 'genome-system', ['-f', PRODUCTION_VALUES]);
    const monitor = pick(objects, 'ServiceMonitor', 'genome-operator') as unknown as {
      spec: { endpoints: { honorLabels?: boolean }[] };
    };
    expect(monitor.spec.endpoints[0]?.honorLabels).toBe(true);
    // And the webhook's endpoint label (validate-genome, mutate-pod), which the alerts group by.
    const webhook = pick(objects, 'ServiceMonitor', 'genome-operator-webhook') as unknown as {
      spec: { endpoints: { honorLabels?: boolean }[] };
    };
    expect(webhook.spec.endpoints[0]?.honorLabels).toBe(true);
  });
});

describe('the webhook configurations', () => {
  const endpoint = (ns: string) => ({
    service: { namespace: ns, name: 'genome-operator-webhook', port: 443 },
  });
  /** The rendered object with only core's labels (the chart adds Helm's), for comparison. */
  const withCoreLabels = (o: Rendered) => ({
    ...o,
    metadata: {
      ...o.metadata,
      labels: { 'app.kubernetes.io/name': o.metadata.labels?.['app.kubernetes.io/name'] },
    },
  });

  it('are the objects core/webhook-config.ts makes (the default failClosed posture: Fail in every render)', async () => {
    const objects = await template('genome-operator', 'genome-system');
    const validating = pick(objects, 'ValidatingWebhookConfiguration');
    const mutating = pick(objects, 'MutatingWebhookConfiguration');
    expect(withCoreLabels(validating)).toEqual(
      genomeWebhookConfiguration('genome-operator', 'genome-system', endpoint('genome-system')),
    );
    expect(withCoreLabels(mutating)).toEqual(
      podWebhookConfiguration('genome-operator', 'genome-system', endpoint('genome-system')),
    );
    expect(validating.metadata.labels).toMatchObject({
      'app.kubernetes.io/instance': 'genome-operator',
    });
  });

  it('start with failurePolicy Ignore in the selfCheck posture, and differ from core in nothing else', async () => {
    const objects = await template('genome-operator', 'genome-system', [
      ...['--set', 'webhook.installPosture=selfCheck'],
    ]);
    for (const [kind, core] of [
      [
        'ValidatingWebhookConfiguration',
        genomeWebhookConfiguration('genome-operator', 'genome-system', endpoint('genome-system')),
      ],
      [
        'MutatingWebhookConfiguration',
        podWebhookConfiguration('genome-operator', 'genome-system', endpoint('genome-system')),
      ],
    ] as const) {
      const rendered = withCoreLabels(pick(objects, kind)) as unknown as {
        webhooks: { failurePolicy: string }[];
      };
      expect(rendered.webhooks[0]!.failurePolicy).toBe('Ignore');
      const expected = structuredClone(core) as { webhooks: { failurePolicy: string }[] };
      expected.webhooks[0]!.failurePolicy = 'Ignore';
      expect(rendered).toEqual(expected);
    }
    // The hook that switches them to Fail once a replica refuses a tampered Genome, and closes
    // them again after a rollback to the first revision (whose stored manifest says Ignore).
    const job = pick(objects, 'Job');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe(
      'post-install,post-upgrade,post-rollback',
    );
  });

  it('render Fail without a cluster in the failClosed posture (GitOps, helm template), and still check the webhook in a hook', async () => {
    const objects = await template('genome-operator', 'genome-system', [
      ...['--set', 'webhook.installPosture=failClosed'],
    ]);
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const rendered = pick(objects, kind) as unknown as { webhooks: { failurePolicy: string }[] };
      expect(rendered.webhooks[0]!.failurePolicy).toBe('Fail');
    }
    const job = pick(objects, 'Job');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe(
      'post-install,post-upgrade,post-rollback',
    );
  });

  it('keep Fail on upgrade in the selfCheck posture: the template reads the live configuration (lookup)', async () => {
    const release = `lookup-${Date.now().toString(36)}`;
    const name = `${release}-genome-operator`;
    cleanupClusterScoped(release);
    // A live fail-closed configuration of that release that matches no namespace (harmless).
    const live = genomeWebhookConfiguration(name, 'genome-system', {
      url: 'https://127.0.0.1:1/validate-genome',
    }) as {
      metadata: { labels: Record<string, string> };
      webhooks: { namespaceSelector: unknown }[];
    };
    // ... owned by the release, as Helm marks what it installed.
    live.metadata.labels['app.kubernetes.io/instance'] = release;
    live.metadata.labels['app.kubernetes.io/managed-by'] = 'Helm';
    (live.metadata as { annotations?: object }).annotations = {
      'meta.helm.sh/release-name': release,
      'meta.helm.sh/release-namespace': 'genome-system',
    };
    live.webhooks[0]!.namespaceSelector = { matchLabels: { 'genome-test/never': 'x' } };
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(live) });
    const objects = await template(release, 'genome-system', [
      ...['--dry-run=server', '--set', 'webhook.installPosture=selfCheck'],
      // Against a cluster, helm refuses to render over the shared `default` policy it does not own.
      ...['--set', 'trustPolicies.createDefault=false'],
    ]);
    const rendered = pick(objects, 'ValidatingWebhookConfiguration') as unknown as {
      webhooks: { failurePolicy: string }[];
    };
    expect(rendered.webhooks[0]!.failurePolicy).toBe('Fail');
    // The install was proven once: the mutating one (deleted since) is rendered Fail too.
    const mutating = pick(objects, 'MutatingWebhookConfiguration') as unknown as {
      webhooks: { failurePolicy: string }[];
    };
    expect(mutating.webhooks[0]!.failurePolicy).toBe('Fail');
  });

  it('keep Fail on upgrade after a break-glass Ignore: the self-check left its mark on the live configuration', async () => {
    const release = `proven-${Date.now().toString(36)}`;
    const name = `${release}-genome-operator`;
    cleanupClusterScoped(release);
    const live = podWebhookConfiguration(name, 'genome-system', {
      url: 'https://127.0.0.1:1/mutate-pod',
    }) as {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      webhooks: { failurePolicy: string; objectSelector: unknown }[];
    };
    live.metadata.labels['app.kubernetes.io/instance'] = release;
    live.metadata.labels['app.kubernetes.io/managed-by'] = 'Helm';
    live.metadata.annotations = {
      'meta.helm.sh/release-name': release,
      'meta.helm.sh/release-namespace': 'genome-system',
      // What cmd/genome-selfcheck.ts writes when it switches them.
      'genome.mathison.io/self-check-passed': '2026-12-05T00:00:00.000Z',
    };
    live.webhooks[0]!.failurePolicy = 'Ignore';
    live.webhooks[0]!.objectSelector = { matchLabels: { 'genome-test/never': 'x' } };
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(live) });
    const objects = await template(release, 'genome-system', [
      ...['--dry-run=server', '--set', 'webhook.installPosture=selfCheck'],
      // Against a cluster, helm refuses to render over the shared `default` policy it does not own.
      ...['--set', 'trustPolicies.createDefault=false'],
    ]);
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const rendered = pick(objects, kind) as unknown as { webhooks: { failurePolicy: string }[] };
      expect(rendered.webhooks[0]!.failurePolicy, kind).toBe('Fail');
    }
  });
});

describe('RBAC', () => {
  it("gives the operator exactly config/rbac/operator.yaml's rules", async () => {
    const objects = await template('genome-operator', 'genome-system');
    const source = parseAllDocuments(
      readFileSync(join(ROOT, 'config', 'rbac', 'operator.yaml'), 'utf8'),
    ).map((d) => d.toJS() as Rendered & { rules?: unknown });
    const rulesOf = (list: (Rendered & { rules?: unknown })[], kind: string) =>
      list.find((o) => o.kind === kind)?.rules;
    expect(pick(objects, 'ClusterRole', 'genome-operator').rules).toEqual(
      rulesOf(source, 'ClusterRole'),
    );
    expect(pick(objects, 'Role', 'genome-operator').rules).toEqual(rulesOf(source, 'Role'));
  });

  it('lets each service account do what it needs and nothing else (kubectl auth can-i --as)', async () => {
    const ns = await restrictedNamespace('helm-rbac');
    const other = await uniqueNamespace('helm-rbac-other');
    cleanups.push(() =>
      kubectl(['delete', 'namespace', other, '--wait=false'], { allowFailure: true }),
    );
    const release = `rbac-${Date.now().toString(36)}`;
    cleanupClusterScoped(release);
    const objects = await template(release, ns, ['--set', `selfCheck.namespace=${other}`]);
    const rbac = objects.filter((o) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(
        o.kind,
      ),
    );
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }),
    });
    const base = `${release}-genome-operator`;
    const can = async (
      sa: string,
      verb: string,
      resource: string,
      namespace?: string,
    ): Promise<boolean> => {
      // resource#sub asks about a subresource; resource/name about one object.
      const [res, sub] = resource.split('#');
      const out = await kubectl(
        [
          'auth',
          'can-i',
          verb,
          res!,
          ...(sub ? [`--subresource=${sub}`] : []),
          `--as=system:serviceaccount:${ns}:${sa}`,
          ...(namespace ? ['-n', namespace] : []),
        ],
        { allowFailure: true },
      );
      return out.stdout.trim() === 'yes';
    };
    const webhook = `${base}-webhook`;
    const table: [
      sa: string,
      verb: string,
      resource: string,
      namespace: string | undefined,
      allowed: boolean,
    ][] = [
      [base, 'list', 'genomes.mathison.io', other, true],
      [base, 'patch', 'genomes.mathison.io#status', other, true],
      [base, 'update', 'genomes.mathison.io', other, false],
      [base, 'delete', 'genomes.mathison.io', other, false],
      [base, 'get', 'secrets', ns, true],
      [base, 'get', 'secrets', other, false],
      [base, 'list', 'secrets', other, false],
      [base, 'create', 'secrets', ns, false],
      [base, 'create', 'leases.coordination.k8s.io', ns, true],
      [base, 'create', 'leases.coordination.k8s.io', other, false],
      [base, 'update', 'validatingwebhookconfigurations', undefined, false],
      // RBAC cannot narrow these; the chart's ValidatingAdmissionPolicies do (tested below).
      [base, 'patch', 'pods#status', other, true],
      [base, 'patch', 'deployments.apps', other, true],
      [base, 'update', 'deployments.apps', other, false],
      [base, 'create', 'configmaps', other, true],
      [base, 'update', 'pods', other, false],
      // Trust policies (cluster-scoped): read, and their status written, by the operator ...
      [base, 'get', 'genometrustpolicies.mathison.io', undefined, true],
      [base, 'list', 'genometrustpolicies.mathison.io', undefined, true],
      [base, 'watch', 'genometrustpolicies.mathison.io', undefined, true],
      [base, 'update', 'genometrustpolicies.mathison.io#status', undefined, true],
      [base, 'patch', 'genometrustpolicies.mathison.io#status', undefined, true],
      [base, 'create', 'genometrustpolicies.mathison.io', undefined, false],
      [base, 'update', 'genometrustpolicies.mathison.io', undefined, false],
      [base, 'patch', 'genometrustpolicies.mathison.io', undefined, false],
      [base, 'delete', 'genometrustpolicies.mathison.io', undefined, false],
      // ... and the namespaces' labels they select by, listed and watched only.
      [base, 'list', 'namespaces', undefined, true],
      [base, 'watch', 'namespaces', undefined, true],
      [base, 'get', 'namespaces', undefined, false],
      [base, 'patch', 'namespaces', undefined, false],
      [webhook, 'get', 'genometrustpolicies.mathison.io', undefined, true],
      [webhook, 'list', 'genometrustpolicies.mathison.io', undefined, true],
      [webhook, 'watch', 'genometrustpolicies.mathison.io', undefined, true],
      [webhook, 'create', 'genometrustpolicies.mathison.io', undefined, false],
      [webhook, 'patch', 'genometrustpolicies.mathison.io', undefined, false],
      [webhook, 'delete', 'genometrustpolicies.mathison.io', undefined, false],
      [webhook, 'patch', 'genometrustpolicies.mathison.io#status', undefined, false],
      [webhook, 'list', 'namespaces', undefined, true],
      [webhook, 'watch', 'namespaces', undefined, true],
      [webhook, 'get', 'namespaces', undefined, false],
      [webhook, 'update', 'namespaces', undefined, false],
      [`${base}-selfcheck`, 'list', 'genometrustpolicies.mathison.io', undefined, false],
      [webhook, 'watch', 'genomes.mathison.io', other, true],
      [webhook, 'create', 'genomes.mathison.io', other, false],
      [webhook, 'update', 'genomes.mathison.io#status', other, false],
      [webhook, 'list', 'secrets', ns, true],
      // Every labelled Secret of its namespace is a trusted key: the webhook cannot make one.
      [webhook, 'create', 'secrets', ns, false],
      [webhook, 'patch', 'secrets/some-trust-secret', ns, false],
      [webhook, 'get', 'secrets/genome-webhook-tls', ns, true],
      [webhook, 'update', 'secrets/genome-webhook-tls', ns, true],
      [webhook, 'get', 'secrets/some-other-secret', ns, false],
      [webhook, 'update', 'secrets/some-other-secret', ns, false],
      [webhook, 'delete', 'secrets/genome-webhook-tls', ns, false],
      [webhook, 'get', 'secrets', other, false],
      [webhook, 'list', 'secrets', other, false],
      [webhook, 'update', `validatingwebhookconfigurations/${base}`, undefined, true],
      [webhook, 'update', `mutatingwebhookconfigurations/${base}`, undefined, true],
      [webhook, 'update', 'validatingwebhookconfigurations/someone-elses', undefined, false],
      [webhook, 'create', 'validatingwebhookconfigurations', undefined, false],
      [webhook, 'delete', `validatingwebhookconfigurations/${base}`, undefined, false],
      [webhook, 'create', 'configmaps', other, false],
      [webhook, 'create', 'pods', other, false],
      [`${base}-selfcheck`, 'create', 'genomes.mathison.io', other, true],
      [`${base}-selfcheck`, 'create', 'genomes.mathison.io', ns, false],
      [`${base}-selfcheck`, 'patch', `validatingwebhookconfigurations/${base}`, undefined, true],
      [
        `${base}-selfcheck`,
        'patch',
        'validatingwebhookconfigurations/someone-elses',
        undefined,
        false,
      ],
      [`${base}-selfcheck`, 'get', 'secrets', ns, false],
      [`${base}-selfcheck`, 'delete', 'genomes.mathison.io', other, false],
    ];
    const answers = await Promise.all(
      table.map(([sa, verb, resource, namespace]) => can(sa, verb, resource, namespace)),
    );
    const wrong = table
      .filter((row, i) => answers[i] !== row[4])
      .map(
        ([sa, verb, resource, namespace, allowed]) =>
          `${sa} ${verb} ${resource} in ${namespace ?? '(cluster)'}: expected ${allowed ? 'yes' : 'no'}`,
      );
    expect(wrong).toEqual([]);
  });
});

describe('the GenomeTrustPolicy CRD and the default policy', () => {
  /** A GenomeTrustPolicy named `name` with `spec`, as JSON for kubectl. */
  const policy = (name: string, spec: object) =>
    JSON.stringify({
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'GenomeTrustPolicy',
      metadata: { name },
      spec,
    });
  const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}`;
  const deleteLater = (name: string) =>
    cleanups.push(() =>
      kubectl(['delete', 'gtp', name, '--ignore-not-found', '--wait=false'], {
        allowFailure: true,
      }),
    );

  it('renders the default policy: Enforce, no match, no keys, no threshold, test keys only outside production', async () => {
    const specOf = (objects: Rendered[]) => pick(objects, 'GenomeTrustPolicy', 'default').spec;
    const defaults = await template('genome-operator', 'genome-system');
    expect(specOf(defaults)).toEqual(defaultTrustPolicy({ allowTestKeys: false }).spec);
    const dev = await template('genome-operator', 'genome-system', ['-f', DEV_VALUES]);
    expect(specOf(dev)).toEqual(defaultTrustPolicy({ allowTestKeys: true }).spec);
    const none = await template('genome-operator', 'genome-system', [
      ...['--set', 'trustPolicies.createDefault=false'],
    ]);
    expect(none.filter((o) => o.kind === 'GenomeTrustPolicy')).toEqual([]);
    const refused = await helm([
      ...['template', 'x', CHART, '-n', 'genome-system'],
      ...['--set', 'trustPolicies.createDefualt=false'],
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("additional properties 'createDefualt' not allowed");
    // NOTES.txt says which policy governs, and whether test keys count.
    const notes = async (args: string[]) =>
      (await helm(['install', 'x', CHART, '-n', 'genome-system', '--dry-run=client', ...args]))
        .stdout;
    expect(await notes([])).toContain('test keys never count (production mode)');
    expect(await notes(['-f', DEV_VALUES])).toContain('test keys count (production=false)');
    expect(await notes(['--set', 'trustPolicies.createDefault=false'])).toContain(
      'with none, every Genome is refused',
    );
  });

  it("is the policy the test harness applies (installGenomeCrd), the chart's dev values' own", async () => {
    const live = await kubectl(['get', 'gtp', 'default', '-o', 'json']);
    const dev = await template('genome-operator', 'genome-system', ['-f', DEV_VALUES]);
    expect((JSON.parse(live.stdout) as { spec: unknown }).spec).toEqual(
      pick(dev, 'GenomeTrustPolicy', 'default').spec,
    );
    // Idempotent, also when test files install it at the same time.
    const crd = join(ROOT, 'crds', 'genomes.mathison.io.yaml');
    await Promise.all([installGenomeCrd(crd), installGenomeCrd(crd)]);
  });

  it('is accepted as rendered by the API server and listed by kubectl get gtp with its columns', async () => {
    // Under another name: `default` itself is the shared one the other test files rely on.
    for (const [values, allowTestKeys] of [
      [[], false],
      [['-f', DEV_VALUES], true],
    ] as const) {
      const rendered = pick(
        await template('genome-operator', 'genome-system', [...values]),
        'GenomeTrustPolicy',
      );
      const name = unique(`default-${String(allowTestKeys)}`);
      deleteLater(name);
      rendered.metadata.name = name;
      await kubectl(['create', '-f', '-'], { input: JSON.stringify(rendered) });
      const stored = await kubectl(['get', 'gtp', name, '-o', 'jsonpath={.spec.allowTestKeys}']);
      expect(stored.stdout).toBe(String(allowTestKeys));
      const table = await kubectl(['get', 'gtp', name]);
      const [header, row] = table.stdout.trim().split('\n');
      expect(header!.split(/\s+/)).toEqual([
        'NAME',
        'MODE',
        'MATCHED',
        'VERIFIED',
        'REFUSED',
        'READY',
        'AGE',
      ]);
      expect(row).toMatch(new RegExp(`^${name}\\s+Enforce\\s`));
    }
  });

  it('explains its fields (kubectl explain gtp.spec.threshold)', async () => {
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    const out = await eventually('kubectl explain gtp', async () => {
      const got = await kubectl(['explain', 'gtp.spec.threshold'], { allowFailure: true });
      return got.code === 0 ? got.stdout : undefined;
    });
    expect(out).toContain('GenomeTrustPolicy');
    expect(out).toMatch(/FIELD:\s+threshold <integer>/);
    // kubectl wraps the description.
    expect(out.replace(/\s+/g, ' ')).toContain(
      "The quorum is the larger of this and the genome's own signed authority.threshold",
    );
    const mode = await kubectl(['explain', 'gtp.spec.mode']);
    expect(mode.stdout).toMatch(/Enforce[\s\S]*Warn[\s\S]*Audit/);
  });

  it('refuses a policy outside the schema, naming the field', async () => {
    const cases: [spec: object, message: string][] = [
      [{ mode: 'Sometimes' }, 'spec.mode: Unsupported value: "Sometimes"'],
      [{}, 'spec.mode: Required value'],
      [{ mode: 'Enforce', threshold: 0 }, 'spec.threshold: Invalid value: 0'],
      [{ mode: 'Enforce', threshold: 65 }, 'spec.threshold: Invalid value: 65'],
      [{ mode: 'Enforce', maxAge: '1y' }, 'spec.maxAge: Invalid value: "1y"'],
      [
        { mode: 'Enforce', keys: { secretRefs: [{ name: 'Not_A_Secret' }] } },
        'spec.keys.secretRefs[0].name',
      ],
      [{ mode: 'Enforce', keys: { keyIds: ['a key'] } }, 'spec.keys.keyIds[0]'],
      [
        { mode: 'Enforce', requiredKeyIds: Array.from({ length: 33 }, (_, i) => `k${i}`) },
        'spec.requiredKeyIds: Too many',
      ],
      [
        { mode: 'Enforce', match: { genomeNames: Array.from({ length: 65 }, () => 'x') } },
        'spec.match.genomeNames: Too many',
      ],
      [
        {
          mode: 'Enforce',
          match: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In' }] } },
        },
        'values must be non-empty for In and NotIn',
      ],
      [
        {
          mode: 'Enforce',
          match: {
            namespaceSelector: {
              matchExpressions: [{ key: 'env', operator: 'Near', values: ['x'] }],
            },
          },
        },
        'spec.match.namespaceSelector.matchExpressions[0].operator: Unsupported value: "Near"',
      ],
    ];
    const refusals = await Promise.all(
      cases.map(([spec]) =>
        kubectl(['create', '--dry-run=server', '-f', '-'], {
          input: policy(unique('refused'), spec),
          allowFailure: true,
        }),
      ),
    );
    cases.forEach(([spec, message], i) => {
      expect(refusals[i]!.code, JSON.stringify(spec)).not.toBe(0);
      expect(refusals[i]!.stderr, JSON.stringify(spec)).toContain(message);
    });
    // A full policy, as docs/trust-policies.md writes one, is accepted.
    const full = await kubectl(['create', '--dry-run=server', '-f', '-'], {
      input: policy(unique('production'), {
        mode: 'Enforce',
        match: {
          namespaceSelector: {
            matchLabels: { env: 'production' },
            matchExpressions: [{ key: 'tier', operator: 'Exists' }],
          },
          genomeNames: ['TOTK_*'],
        },
        keys: { secretRefs: [{ name: 'prod-signers' }], keyIds: ['prod-key-001'] },
        threshold: 2,
        requiredKeyIds: ['security-officer-1'],
        allowTestKeys: false,
        maxAge: '8760h',
      }),
    });
    expect(full.code).toBe(0);
  });

  it('prunes unknown fields (a policy is not signed content)', async () => {
    const name = unique('pruned');
    deleteLater(name);
    await kubectl(['create', '--validate=false', '-f', '-'], {
      input: policy(name, { mode: 'Audit', surprise: true, keys: { extra: 1 } }),
    });
    const stored = await kubectl(['get', 'gtp', name, '-o', 'jsonpath={.spec}']);
    expect(JSON.parse(stored.stdout)).toEqual({ mode: 'Audit', keys: {} });
  });
});

describe('the self-check', () => {
  it('has a ServiceAccount and RBAC that exist only while it runs (hooks deleted after it, whatever the outcome)', async () => {
    const objects = await template('genome-operator', 'genome-system');
    const selfcheck = objects.filter(
      (o) =>
        o.metadata.name === 'genome-operator-selfcheck' &&
        ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(
          o.kind,
        ),
    );
    expect(selfcheck.map((o) => o.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
    for (const o of selfcheck)
      expect(o.metadata.annotations, o.kind).toMatchObject({
        'helm.sh/hook': 'post-install,post-upgrade,post-rollback,test',
        'helm.sh/hook-weight': '-10',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded,hook-failed',
      });
    // Created before the Job and the test pod that use them.
    expect(pick(objects, 'Job').metadata.annotations?.['helm.sh/hook-weight']).toBe('0');
  });
});

describe("the ValidatingAdmissionPolicies on the operator's writes", () => {
  let ns: string;
  let operator: string;
  let selfcheck: string;
  const as = (sa: string) => `--as=system:serviceaccount:${ns}:${sa}`;
  /** kubectl as `sa`; resolves with the outcome (never throws). */
  const write = (sa: string, args: string[], input?: string) =>
    kubectl([as(sa), ...args], { allowFailure: true, ...(input !== undefined && { input }) });
  const refusedBy = (policy: string) =>
    new RegExp(`ValidatingAdmissionPolicy '${policy}' with binding '${policy}' denied request`);

  beforeAll(async () => {
    ns = await uniqueNamespace('helm-vap');
    cleanups.push(() =>
      kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true }),
    );
    const release = `vap-${Date.now().toString(36)}`;
    cleanupClusterScoped(release);
    operator = `${release}-genome-operator`;
    selfcheck = `${operator}-selfcheck`;
    // The release lives in ns; the tenant objects below are there too (RBAC: the operator's
    // writes are cluster-wide, so the namespace does not matter for the policy).
    const objects = await template(release, ns, ['--set', 'selfCheck.namespace=default']);
    const wanted = objects.filter((o) =>
      [
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ].includes(o.kind),
    );
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: wanted }),
    });
    const labels = { app: 'x', 'genome.mathison.io/genome': 'totk' };
    const podSpec = { containers: [{ name: 'app', image: 'genome.local/none:v1' }] };
    const workload = (
      kind: string,
      name: string,
      templateLabels: Record<string, string>,
      ownLabels: Record<string, string> = templateLabels,
    ) => ({
      apiVersion: 'apps/v1',
      kind,
      metadata: { name, namespace: ns, labels: ownLabels },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'x' } },
        ...(kind === 'StatefulSet' && { serviceName: name }),
        template: { metadata: { labels: templateLabels }, spec: podSpec },
      },
    });
    const items = [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'gated', namespace: ns, labels },
        spec: podSpec,
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'plain', namespace: ns, labels: { app: 'x' } },
        spec: podSpec,
      },
      workload('Deployment', 'gated', labels),
      workload('Deployment', 'plain', { app: 'x' }),
      workload('Deployment', 'template-only', labels, { app: 'x' }),
      workload('StatefulSet', 'gated', labels),
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'tenant', namespace: ns },
        data: { a: 'b' },
      },
    ];
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    });
    // The policies take effect once the API server has compiled them: wait for the first refusal.
    await eventually(
      'the policies to take effect',
      async () => {
        const out = await write(operator, [
          ...['patch', 'configmap', 'tenant', '-n', ns, '--type=merge'],
          ...['-p', '{"data":{"a":"c"}}'],
        ]);
        return out.code !== 0 && /denied request/.test(out.stderr) ? true : undefined;
      },
      30_000,
    );
  });

  const gate = (type: string, status = 'True') => ({
    status: { conditions: [{ type, status, reason: 'Test', message: 'x' }] },
  });

  /**
   * PATCHes `path` as `sa` straight to the API server (kubectl patch would GET first, which the
   * operator may not); resolves with the API server's status code and message.
   */
  const patchAs = async (sa: string, path: string, body: object, type: string) => {
    const admin = kubeClient();
    const kc = new PooledKubeConfig();
    kc.loadFromOptions({
      clusters: admin.clusters,
      contexts: admin.contexts,
      currentContext: admin.currentContext,
      users: admin.users.map((u) => ({
        ...u,
        impersonateUser: `system:serviceaccount:${ns}:${sa}`,
      })),
    });
    const url = new URL(`${kc.getCurrentCluster()!.server}${path}`);
    const options: RequestOptions = {
      method: 'PATCH',
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: { 'Content-Type': type },
    };
    await kc.applyToHTTPSOptions(options);
    return new Promise<{ code: number; message: string }>((resolve, reject) => {
      const req = request(options, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const message = (JSON.parse(text) as { message?: string }).message ?? '';
          resolve({ code: res.statusCode ?? 0, message });
        });
      });
      req.once('error', reject);
      req.end(JSON.stringify(body));
    });
  };
  const STRATEGIC = 'application/strategic-merge-patch+json';
  const MERGE = 'application/merge-patch+json';

  it('lets the operator set the readiness gate of a labelled pod and nothing else in its status', async () => {
    const status = (pod: string) => `/api/v1/namespaces/${ns}/pods/${pod}/status`;
    const ok = await patchAs(
      operator,
      status('gated'),
      gate('genome.mathison.io/verified'),
      STRATEGIC,
    );
    expect(ok.code, ok.message).toBe(200);
    // A pod whose label went (where the pod webhook was not consulted) may have its gate closed.
    const close = await patchAs(
      operator,
      status('plain'),
      gate('genome.mathison.io/verified', 'False'),
      STRATEGIC,
    );
    expect(close.code, close.message).toBe(200);
    const refusals: [what: string, pod: string, patch: object][] = [
      ['another condition', 'gated', gate('Ready')],
      ['a label, into a Service', 'gated', { metadata: { labels: { role: 'db' } } }],
      ['an annotation', 'gated', { metadata: { annotations: { a: 'b' } } }],
      ['the phase', 'gated', { status: { phase: 'Failed' } }],
      ['the gate of a pod that asks for no genome', 'plain', gate('genome.mathison.io/verified')],
    ];
    for (const [what, pod, patch] of refusals) {
      const out = await patchAs(operator, status(pod), patch, STRATEGIC);
      expect(out.code, `${what}: ${out.message}`).toBe(403);
      expect(out.message, what).toMatch(refusedBy(`${operator}-pod-gate`));
    }
    // Someone else (here the admin) is not held to it.
    const admin = await kubectl([
      ...['patch', 'pod', 'gated', '-n', ns, '--subresource=status', '--type=strategic'],
      ...['-p', JSON.stringify(gate('example.com/other'))],
    ]);
    expect(admin.code).toBe(0);
  });

  it("lets the operator stamp the genome id on a labelled workload's pod template and nothing else", async () => {
    const at = (kind: string, name: string) => `/apis/apps/v1/namespaces/${ns}/${kind}/${name}`;
    const stamp = {
      spec: {
        template: { metadata: { annotations: { 'genome.mathison.io/id': 'a'.repeat(64) } } },
      },
    };
    for (const kind of ['deployments', 'statefulsets']) {
      const ok = await patchAs(operator, at(kind, 'gated'), stamp, MERGE);
      expect(ok.code, `${kind}: ${ok.message}`).toBe(200);
    }
    const deployments = `${operator}-deployments`;
    const image = {
      spec: { template: { spec: { containers: [{ name: 'app', image: 'evil:v1' }] } } },
    };
    const refusals: [what: string, kind: string, name: string, patch: object, policy: string][] = [
      ['the image', 'deployments', 'gated', image, deployments],
      ['the replicas', 'deployments', 'gated', { spec: { replicas: 5 } }, deployments],
      [
        'another template annotation',
        'deployments',
        'gated',
        { spec: { template: { metadata: { annotations: { x: 'y' } } } } },
        deployments,
      ],
      [
        'a template label',
        'deployments',
        'gated',
        { spec: { template: { metadata: { labels: { x: 'y' } } } } },
        deployments,
      ],
      ['a label', 'deployments', 'gated', { metadata: { labels: { x: 'y' } } }, deployments],
      ['a workload that asks for no genome', 'deployments', 'plain', stamp, deployments],
      [
        'a workload labelled only on its template',
        'deployments',
        'template-only',
        stamp,
        deployments,
      ],
      [
        'the replicas of a StatefulSet',
        'statefulsets',
        'gated',
        { spec: { replicas: 5 } },
        `${operator}-statefulsets`,
      ],
    ];
    for (const [what, kind, name, patch, policy] of refusals) {
      const out = await patchAs(operator, at(kind, name), patch, MERGE);
      expect(out.code, `${what}: ${out.message}`).toBe(403);
      expect(out.message, what).toMatch(refusedBy(policy));
    }
  });

  it('lets the operator write only the ConfigMaps it publishes (its label, a Genome as controller)', async () => {
    const policy = refusedBy(`${operator}-configmaps`);
    const published = (name: string, extra: object = {}) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace: ns,
          labels: { 'app.kubernetes.io/managed-by': 'genome-operator' },
          ownerReferences: [
            {
              apiVersion: 'mathison.io/v1alpha1',
              kind: 'Genome',
              name: 'totk',
              uid: '00000000-0000-0000-0000-000000000001',
              controller: true,
              blockOwnerDeletion: false,
            },
          ],
          ...extra,
        },
        data: { 'genome.json': '{}' },
      });
    const ok = await write(operator, ['create', '-f', '-'], published('published'));
    expect(ok.code, ok.stderr).toBe(0);
    const patched = await write(operator, [
      ...['patch', 'configmap', 'published', '-n', ns, '--type=merge', '-p', '{"data":{"a":"b"}}'],
    ]);
    expect(patched.code, patched.stderr).toBe(0);
    const unlabelled = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'unlabelled', namespace: ns },
      data: {},
    });
    const refusals: [what: string, args: string[], input?: string][] = [
      ['a create without its label and owner', ['create', '-f', '-'], unlabelled],
      [
        'a change of a tenant ConfigMap',
        ['patch', 'configmap', 'tenant', '-n', ns, '--type=merge', '-p', '{"data":{"a":"c"}}'],
      ],
      ['a delete of a tenant ConfigMap', ['delete', 'configmap', 'tenant', '-n', ns]],
      [
        'taking its label off',
        ['label', 'configmap', 'published', '-n', ns, 'app.kubernetes.io/managed-by-'],
      ],
    ];
    for (const [what, args, input] of refusals) {
      const out = await write(operator, args, input);
      expect(out.code, what).not.toBe(0);
      expect(out.stderr, what).toMatch(policy);
    }
    const deleted = await write(operator, ['delete', 'configmap', 'published', '-n', ns]);
    expect(deleted.code, deleted.stderr).toBe(0);
  });

  it('lets the self-check create Genomes only as dry runs', async () => {
    const genome = readFileSync(join(CHART, 'files', 'totk-genome.json'), 'utf8');
    const manifest = JSON.stringify({
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'Genome',
      metadata: { name: 'selfcheck-real', namespace: 'default' },
      spec: { genome: JSON.parse(genome) as unknown },
    });
    const dry = await write(selfcheck, ['create', '--dry-run=server', '-f', '-'], manifest);
    expect(dry.code, dry.stderr).toBe(0);
    const real = await write(selfcheck, ['create', '-f', '-'], manifest);
    expect(real.code).not.toBe(0);
    expect(real.stderr).toMatch(refusedBy(`${selfcheck}-dry-run`));
  });
});

describe('values refused by values.schema.json', () => {
  const keygen = () => {
    const out = execFileSync(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [join(ROOT, 'scripts', 'genome-keygen.ts'), 'k1'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return out;
  };
  /** Renders with `values` (YAML text on stdin); returns helm's exit code and message. */
  const renderWith = (values: string, namespace = 'genome-system') =>
    helm(['template', 'x', CHART, '-n', namespace, '-f', '-'], values);

  it('refuses private key material in a trust Secret, in any encoding, without showing it', async () => {
    const { privateKey } = await import('node:crypto').then((c) => {
      const pair = c.generateKeyPairSync('ed25519');
      return { privateKey: pair.privateKey };
    });
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    for (const secret of [
      der.toString('base64'),
      der.toString('hex'),
      pem,
      Buffer.concat([der, der]).toString('base64'),
    ]) {
      const values = `trust:\n  secrets:\n    - name: mine\n      keys:\n        k1: ${JSON.stringify(secret)}\n`;
      const out = await renderWith(values);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toContain("at '/trust/secrets/0/keys/k1'");
      expect(out.stderr).toContain('PRIVATE_KEY_EXPOSED');
      // Neither the whole value nor its key material appears in the message.
      expect(out.stderr).not.toContain(der.toString('base64').slice(16, 40));
      expect(out.stderr).not.toContain(der.toString('hex').slice(32, 80));
    }
    // A public key (what genome-keygen prints on stdout) is accepted.
    const publicKey = JSON.parse(keygen()) as { public_key: string }[] | { public_key: string };
    const value = Array.isArray(publicKey) ? publicKey[0]!.public_key : publicKey.public_key;
    const ok = await renderWith(
      `trust:\n  secrets:\n    - name: mine\n      keys:\n        k1: ${value}\n`,
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('refuses invalid settings with a message that names the value', async () => {
    const cases: [values: string, message: string][] = [
      // production: true is the default.
      ['trust:\n  testKey: true\n', 'production=true refuses trust.testKey=true'],
      ['webhook:\n  replicas: 1\n', "at '/webhook/replicas': minimum: got 1, want 2"],
      ['webhook:\n  installPosture: yolo\n', "at '/webhook/installPosture'"],
      ['webhook:\n  tls:\n    mode: letsencrypt\n', "at '/webhook/tls/mode'"],
      ['operator:\n  replicas: 2\n  leaderElection: false\n', "at '/operator/leaderElection'"],
      ['image:\n  pullPolicy: Sometimes\n', "at '/image/pullPolicy'"],
      ['webhok:\n  replicas: 3\n', "additional properties 'webhok' not allowed"],
      ['selfCheck:\n  namespace: Not_A_Namespace\n', "at '/selfCheck/namespace'"],
    ];
    for (const [values, message] of cases) {
      const out = await renderWith(values);
      expect(out.code, values).not.toBe(0);
      expect(out.stderr, values).toContain(message);
    }
    const pdb = await renderWith('operator:\n  podDisruptionBudget:\n    minAvailable: 2\n');
    expect(pdb.code).not.toBe(0);
    expect(pdb.stderr).toContain('operator.podDisruptionBudget.minAvailable (2) must be below');
    // Not a schema rule (it depends on the release namespace): the templates refuse it.
    const own = await renderWith('selfCheck:\n  namespace: apps\n', 'apps');
    expect(own.code).not.toBe(0);
    expect(own.stderr).toContain('selfCheck.namespace must not be the release namespace apps');
  });
});
