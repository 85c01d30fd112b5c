// The chart's escape hatches (docs/install.md, "Chart values"), each rendered by `helm template`
// without a cluster, and `helm lint --strict` of the chart with its default values and with
// values-dev.yaml. A unit test: it needs the helm binary (make helm), not a cluster; the
// renders against the API server are test/helm-chart.test.ts's.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CHART,
  DEV_VALUES,
  helmOffline,
  pick,
  templateOffline,
  type Rendered,
} from '../test/support/helm.ts';
import { ENV_OF } from '../operator/settings.ts';
import { WEBHOOK_ENV_OF } from '../webhook/settings.ts';

const NS = 'genome-system';
const OPERATOR = 'genome-operator';
const WEBHOOK = 'genome-operator-webhook';

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  imagePullSecrets?: { name: string }[];
  priorityClassName?: string;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  securityContext?: Record<string, unknown>;
  volumes?: { name: string }[];
  topologySpreadConstraints?: Record<string, unknown>[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

/** The rendered pod template of a Deployment or Job, or the spec of the helm test Pod. */
function podOf(objects: Rendered[], kind: string, name?: string): PodTemplate {
  const object = pick(objects, kind, name) as unknown as {
    metadata: PodTemplate['metadata'];
    spec: PodSpec & { template?: PodTemplate };
  };
  return object.spec.template ?? { metadata: object.metadata, spec: object.spec };
}

/** The chart's three kinds of pod: operator, webhook, self-check (Job and helm test). */
function pods(objects: Rendered[]): PodTemplate[] {
  return [
    podOf(objects, 'Deployment', OPERATOR),
    podOf(objects, 'Deployment', WEBHOOK),
    podOf(objects, 'Job'),
    podOf(objects, 'Pod'),
  ];
}

const envOf = (pod: PodTemplate, name: string) =>
  pod.spec.containers[0]!.env?.find((e) => e.name === name)?.value;

/** helm template with --set-json pairs. */
const render = (values: Record<string, unknown>) =>
  templateOffline(
    OPERATOR,
    NS,
    Object.entries(values).flatMap(([key, value]) => [
      '--set-json',
      `${key}=${JSON.stringify(value)}`,
    ]),
  );

/** The error of a render the chart or its schema refuses. */
async function refusal(values: Record<string, unknown>): Promise<string> {
  const error = await render(values).then(
    () => new Error('rendered'),
    (e: unknown) => e as Error,
  );
  expect(error.message).toContain('helm template failed');
  return error.message;
}

describe('helm lint --strict', () => {
  it('passes with the default values and with values-dev.yaml', async () => {
    const plain = await helmOffline(['lint', CHART, '--strict']);
    expect(plain.stdout + plain.stderr).toContain('0 chart(s) failed');
    expect(plain.code).toBe(0);
    const dev = await helmOffline(['lint', CHART, '--strict', '-f', DEV_VALUES]);
    expect(dev.stdout + dev.stderr).toContain('0 chart(s) failed');
    expect(dev.code).toBe(0);
  });

  it('passes with every escape hatch set (ci/escape-hatches-values.yaml)', async () => {
    const values = join(CHART, 'ci', 'escape-hatches-values.yaml');
    const out = await helmOffline(['lint', CHART, '--strict', '-f', values]);
    expect(out.stdout + out.stderr).toContain('0 chart(s) failed');
    expect(out.code).toBe(0);
  });
});

describe('image', () => {
  it('puts image.registry before the repository, in every pod and the injected boot check', async () => {
    const objects = await render({
      'image.registry': 'registry.example.com/platform',
      'image.repository': 'genome-operator',
      'image.tag': 'v2',
    });
    const name = 'registry.example.com/platform/genome-operator:v2';
    for (const pod of pods(objects)) expect(pod.spec.containers[0]!.image).toBe(name);
    expect(envOf(podOf(objects, 'Deployment', WEBHOOK), 'GENOME_BOOT_CHECK_IMAGE')).toBe(name);
  });

  it('names the image by image.digest over the tag; an empty registry keeps the repository', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const objects = await render({ 'image.digest': digest });
    const name = `genome.local/genome-operator@${digest}`;
    for (const pod of pods(objects)) expect(pod.spec.containers[0]!.image).toBe(name);
    expect(envOf(podOf(objects, 'Deployment', WEBHOOK), 'GENOME_BOOT_CHECK_IMAGE')).toBe(name);
    expect(await refusal({ 'image.registry': 'registry.example.com/' })).toContain(
      '/image/registry',
    );
  });
});

describe('global', () => {
  it('pull secrets, priority class and log level reach every pod of the chart', async () => {
    const objects = await render({
      'global.imagePullSecrets': [{ name: 'regcred' }],
      'image.pullSecrets': [{ name: 'other' }],
      'global.priorityClassName': 'platform-critical',
      'global.logLevel': 'debug',
    });
    for (const pod of pods(objects)) {
      expect(pod.spec.imagePullSecrets).toEqual([{ name: 'regcred' }, { name: 'other' }]);
      expect(envOf(pod, 'GENOME_LOG_LEVEL')).toBe('debug');
    }
    const [operator, webhook, job] = pods(objects);
    expect(operator!.spec.priorityClassName).toBe('platform-critical');
    expect(job!.spec.priorityClassName).toBe('platform-critical');
    // The webhook keeps its own PriorityClass, created by the chart.
    expect(webhook!.spec.priorityClassName).toBe('genome-webhook-critical');
    const own = await render({
      'global.priorityClassName': 'platform-critical',
      'webhook.priorityClass': { create: false, name: '' },
    });
    expect(podOf(own, 'Deployment', WEBHOOK).spec.priorityClassName).toBe('platform-critical');
  });

  it('logs at info by default and refuses a level that is not one', async () => {
    for (const pod of pods(await render({}))) expect(envOf(pod, 'GENOME_LOG_LEVEL')).toBe('info');
    expect(await refusal({ 'global.logLevel': 'verbose' })).toContain('/global/logLevel');
  });

  it('puts global.commonLabels on every object and pod, never over the chart own labels', async () => {
    const objects = await render({
      'global.commonLabels': {
        team: 'platform',
        'app.kubernetes.io/name': 'other',
        'genome.mathison.io/trusted-keys': 'true',
      },
    });
    for (const object of objects) {
      expect(object.metadata.labels?.team).toBe('platform');
      expect(object.metadata.labels?.['app.kubernetes.io/name']).toBe('genome-operator');
    }
    // No object becomes a trust Secret by a common label.
    const trusted = objects.filter(
      (o) => o.metadata.labels?.['genome.mathison.io/trusted-keys'] === 'true',
    );
    expect(trusted).toEqual([]);
    for (const pod of pods(objects)) expect(pod.metadata.labels.team).toBe('platform');
  });
});

describe('per component: extraArgs, extraEnv, volumes, podLabels, podAnnotations', () => {
  it('appends them to the operator and the webhook alike', async () => {
    const extra = (component: string) => ({
      [`${component}.extraArgs`]: ['--example=1'],
      [`${component}.extraEnv`]: [{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' }],
      [`${component}.volumes`]: [{ name: 'ca', configMap: { name: 'corporate-ca' } }],
      [`${component}.volumeMounts`]: [{ name: 'ca', mountPath: '/etc/ca', readOnly: true }],
      [`${component}.podLabels`]: { team: 'platform', 'app.kubernetes.io/component': 'x' },
      [`${component}.podAnnotations`]: { 'example.com/note': 'yes' },
    });
    const objects = await render({ ...extra('operator'), ...extra('webhook') });
    for (const [name, bundle] of [
      [OPERATOR, '/app/operator.mjs'],
      [WEBHOOK, '/app/webhook.mjs'],
    ] as const) {
      const pod = podOf(objects, 'Deployment', name);
      const container = pod.spec.containers[0]!;
      expect(container.args!.slice(-2)).toEqual([bundle, '--example=1']);
      expect(container.env!.at(-1)).toEqual({ name: 'HTTPS_PROXY', value: 'http://proxy:3128' });
      expect(pod.spec.volumes).toContainEqual({ name: 'ca', configMap: { name: 'corporate-ca' } });
      expect(container.volumeMounts).toContainEqual({
        name: 'ca',
        mountPath: '/etc/ca',
        readOnly: true,
      });
      expect(pod.metadata.labels.team).toBe('platform');
      // The selector's and the component's labels stay the chart's.
      expect(pod.metadata.labels['app.kubernetes.io/component']).not.toBe('x');
      expect(pod.metadata.annotations).toEqual({ 'example.com/note': 'yes' });
    }
  });

  it('refuses an extra env var, volume or mount that reuses a name the chart sets', async () => {
    const env = await refusal({ 'webhook.extraEnv': [{ name: 'WEBHOOK_LISTEN', value: 'x' }] });
    expect(env).toContain('webhook.extraEnv: "WEBHOOK_LISTEN" is set by the chart itself');
    const operatorEnv = await refusal({ 'operator.extraEnv': [{ name: 'GENOME_PRODUCTION' }] });
    expect(operatorEnv).toContain('operator.extraEnv: "GENOME_PRODUCTION"');
    const volume = await refusal({
      'webhook.tls.mode': 'certManager',
      'webhook.volumes': [{ name: 'tls', emptyDir: {} }],
    });
    expect(volume).toContain('webhook.volumes: "tls" is set by the chart itself');
  });

  it('refuses an extra arg naming a flag whose value the chart sets (a flag wins over its env var), for every such flag', async () => {
    for (const mode of ['selfManaged', 'certManager']) {
      const objects = await render({ 'webhook.tls.mode': mode });
      for (const [component, name, flags] of [
        ['operator', OPERATOR, ENV_OF],
        ['webhook', WEBHOOK, WEBHOOK_ENV_OF],
      ] as const) {
        const set = new Set(
          podOf(objects, 'Deployment', name).spec.containers[0]!.env!.map((e) => e.name),
        );
        const reserved = Object.entries(flags).filter(([, env]) => set.has(env));
        expect(reserved.length).toBeGreaterThan(5);
        for (const [flag] of reserved) {
          const why = await refusal({
            'webhook.tls.mode': mode,
            [`${component}.extraArgs`]: [`--${flag}=x`],
          });
          expect(why, `${component} --${flag}`).toContain(
            `${component}.extraArgs: "--${flag}=x" sets --${flag}, which the chart sets`,
          );
        }
      }
    }
    // Two args (--production false) are caught by the first.
    expect(await refusal({ 'operator.extraArgs': ['--production', 'false'] })).toContain(
      'sets --production',
    );
  });
});

describe('security contexts', () => {
  it('keeps the safe defaults, and merges overrides over them one level deep', async () => {
    const defaults = podOf(await render({}), 'Deployment', WEBHOOK);
    expect(defaults.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(defaults.spec.containers[0]!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const objects = await render({
      'operator.securityContext': { fsGroup: 2000, runAsUser: 1000 },
      'operator.containerSecurityContext': {
        capabilities: { add: ['NET_BIND_SERVICE'] },
        readOnlyRootFilesystem: false,
      },
    });
    const operator = podOf(objects, 'Deployment', OPERATOR);
    expect(operator.spec.securityContext).toEqual({
      fsGroup: 2000,
      runAsUser: 1000,
      runAsGroup: 65532,
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(operator.spec.containers[0]!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // The webhook's are its own values.
    expect(podOf(objects, 'Deployment', WEBHOOK).spec.securityContext).toEqual(
      defaults.spec.securityContext,
    );
  });
});

describe('topologySpreadConstraints', () => {
  const selector = (component: string) => ({
    matchLabels: {
      'app.kubernetes.io/name': 'genome-operator',
      'app.kubernetes.io/instance': OPERATOR,
      'app.kubernetes.io/component': component,
    },
  });

  it('keeps webhook.topologySpread as the default, and a list replaces it', async () => {
    const defaults = podOf(await render({}), 'Deployment', WEBHOOK);
    expect(defaults.spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: selector('webhook'),
      },
    ]);
    const zone = {
      maxSkew: 1,
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: 'DoNotSchedule',
    };
    const own = { ...zone, labelSelector: { matchLabels: { a: 'b' } } };
    const objects = await render({
      'webhook.topologySpreadConstraints': [zone, own],
      'operator.topologySpreadConstraints': [zone],
    });
    expect(podOf(objects, 'Deployment', WEBHOOK).spec.topologySpreadConstraints).toEqual([
      { ...zone, labelSelector: selector('webhook') },
      own,
    ]);
    expect(podOf(objects, 'Deployment', OPERATOR).spec.topologySpreadConstraints).toEqual([
      { ...zone, labelSelector: selector('operator') },
    ]);
  });
});

describe('the webhook: hostNetwork, securePort, timeoutSeconds, namespaceSelector', () => {
  it('listens on webhook.securePort, on the node network with hostNetwork', async () => {
    const objects = await render({ 'webhook.hostNetwork': true, 'webhook.securePort': 10260 });
    const pod = podOf(objects, 'Deployment', WEBHOOK);
    expect(pod.spec.hostNetwork).toBe(true);
    expect(pod.spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(envOf(pod, 'WEBHOOK_LISTEN')).toBe('0.0.0.0:10260');
    expect(pod.spec.containers[0]!.ports).toEqual([
      { name: 'https', containerPort: 10260, protocol: 'TCP' },
    ]);
    const policy = pick(objects, 'NetworkPolicy', WEBHOOK) as unknown as {
      spec: { ingress: { ports: { port: number }[] }[] };
    };
    expect(policy.spec.ingress[0]!.ports).toEqual([{ port: 10260, protocol: 'TCP' }]);
    const defaults = podOf(await render({}), 'Deployment', WEBHOOK);
    expect(defaults.spec.hostNetwork).toBeUndefined();
    expect(envOf(defaults, 'WEBHOOK_LISTEN')).toBe('0.0.0.0:8443');
  });

  it('sets timeoutSeconds on both configurations, and the slow-answer alert follows it', async () => {
    const objects = await render({
      'webhook.timeoutSeconds': 10,
      'metrics.prometheusRule.enabled': true,
    });
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const config = pick(objects, kind) as unknown as { webhooks: { timeoutSeconds: number }[] };
      expect(config.webhooks[0]!.timeoutSeconds).toBe(10);
    }
    const rule = JSON.stringify(pick(objects, 'PrometheusRule'));
    expect(rule).toContain('le=\\"10\\"');
    expect(rule).toContain('gave up (10 s)');
    expect(await refusal({ 'webhook.timeoutSeconds': 31 })).toContain('/webhook/timeoutSeconds');
  });

  it('ANDs webhook.namespaceSelector onto the built-in one, which always leaves out kube-system and the release namespace', async () => {
    const extra = { key: 'tenant', operator: 'In', values: ['kube-system', 'a'] };
    const objects = await render({
      'webhook.namespaceSelector': { matchLabels: { env: 'prod' }, matchExpressions: [extra] },
    });
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const config = pick(objects, kind) as unknown as {
        webhooks: { namespaceSelector: Record<string, unknown> }[];
      };
      expect(config.webhooks[0]!.namespaceSelector).toEqual({
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', NS] },
          extra,
        ],
        matchLabels: { env: 'prod' },
      });
    }
    expect(
      await refusal({ 'webhook.namespaceSelector': { matchExpressions: [], replace: true } }),
    ).toContain('/webhook/namespaceSelector');
  });
});

describe('crds.enabled', () => {
  const crdsOf = (objects: Rendered[]) =>
    objects
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => o.metadata.name)
      .sort();

  it('installs the Genome and GenomeTrustPolicy CRDs by default (crds/ of the subchart), none when false', async () => {
    const withCrds = await templateOffline(OPERATOR, NS, ['--include-crds']);
    expect(crdsOf(withCrds)).toEqual(['genomes.mathison.io', 'genometrustpolicies.mathison.io']);
    const without = await templateOffline(OPERATOR, NS, [
      '--include-crds',
      '--set',
      'crds.enabled=false',
    ]);
    expect(crdsOf(without)).toEqual([]);
    // Everything else is the same, the default trust policy included.
    const rest = (objects: Rendered[]) =>
      objects.filter((o) => o.kind !== 'CustomResourceDefinition');
    expect(rest(without)).toEqual(rest(withCrds));
    expect(pick(without, 'GenomeTrustPolicy', 'default')).toBeDefined();
  });

  it('refuses anything but a boolean', async () => {
    expect(await refusal({ 'crds.enabled': 'yes' })).toMatch(/crds/);
  });
});
