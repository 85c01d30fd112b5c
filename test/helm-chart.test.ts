// The Helm chart (charts/genome-operator) against the real API server: helm lint, helm
// template for the default values and for the production-style values file accepted by
// `kubectl apply --dry-run=server` (in a namespace that enforces the restricted Pod Security
// Standard), the webhook configurations equal to core/webhook-config.ts, the operator's RBAC
// equal to config/rbac/operator.yaml, the install posture's lookup, least privilege proven with
// `kubectl auth can-i --as`, and values refused by values.schema.json.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genomeWebhookConfiguration, podWebhookConfiguration } from '../core/webhook-config.ts';
import { installGenomeCrd, kubectl, uniqueNamespace } from './support/cluster.ts';
import { CHART, helm, pick, template, type Rendered } from './support/helm.ts';

const ROOT = join(import.meta.dirname, '..');
const PRODUCTION_VALUES = join(CHART, 'ci', 'production-values.yaml');
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
        'clusterrole,clusterrolebinding,validatingwebhookconfiguration,mutatingwebhookconfiguration',
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
      const metric = /\b(genome_[a-z_]+)\{/.exec(r.expr)?.[1];
      expect(metric, r.alert).toBeDefined();
      expect(metricsSource, `${r.alert} uses ${metric}`).toContain(`name: '${metric}'`);
    }
  });

  it('renders cert-manager mode with files TLS, the mounted Secret and the CA injection annotation', async () => {
    const ns = await restrictedNamespace('helm-certmanager');
    const objects = await template('genome-operator', ns, [
      '--set',
      'webhook.tls.mode=certManager',
    ]);
    const config = pick(objects, 'ValidatingWebhookConfiguration');
    expect(config.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': `${ns}/genome-operator-webhook`,
    });
    pick(objects, 'Certificate');
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

  it('are the objects core/webhook-config.ts makes (failClosed posture)', async () => {
    const objects = await template('genome-operator', 'genome-system', [
      '--set',
      'webhook.installPosture=failClosed',
    ]);
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
    const objects = await template('genome-operator', 'genome-system');
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
    // The hook that switches them to Fail once a replica refuses a tampered Genome.
    const job = pick(objects, 'Job');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('post-install,post-upgrade');
  });

  it('keep Fail on upgrade: the template reads the live configuration (lookup)', async () => {
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
    const objects = await template(release, 'genome-system', ['--dry-run=server']);
    const rendered = pick(objects, 'ValidatingWebhookConfiguration') as unknown as {
      webhooks: { failurePolicy: string }[];
    };
    expect(rendered.webhooks[0]!.failurePolicy).toBe('Fail');
    // The mutating one does not exist yet: it still starts open until the hook has run.
    const mutating = pick(objects, 'MutatingWebhookConfiguration') as unknown as {
      webhooks: { failurePolicy: string }[];
    };
    expect(mutating.webhooks[0]!.failurePolicy).toBe('Ignore');
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
      [webhook, 'watch', 'genomes.mathison.io', other, true],
      [webhook, 'create', 'genomes.mathison.io', other, false],
      [webhook, 'update', 'genomes.mathison.io#status', other, false],
      [webhook, 'list', 'secrets', ns, true],
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
      ['production: true\n', 'production=true refuses trust.testKey=true'],
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
    // Not a schema rule (it depends on the release namespace): the templates refuse it.
    const own = await renderWith('selfCheck:\n  namespace: apps\n', 'apps');
    expect(own.code).not.toBe(0);
    expect(own.stderr).toContain('selfCheck.namespace must not be the release namespace apps');
  });
});
