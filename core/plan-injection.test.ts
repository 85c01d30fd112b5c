import { describe, expect, it } from 'vitest';
import type { GenomeResource } from './api.ts';
import {
  declaring,
  genome,
  keyPair,
  named,
  publishedGenome,
  publishedSource,
} from '../test/builders/index.ts';
import {
  BOOT_CHECK_ANNOTATION,
  GENOME_CONTAINERS_ANNOTATION,
  INJECTION_STATUS_ANNOTATION,
  planInjection,
  type PatchOperation,
} from './plan-injection.ts';

const SETTINGS = { image: 'genome.local/genome-operator:v1', imagePullPolicy: 'Never' };
const SIGNER = keyPair('k-1');
const PUBLISHED = publishedGenome({
  name: 'totk',
  namespace: 'apps',
  genome: genome(declaring(SIGNER)),
  generation: 2,
});
const ID = PUBLISHED.genomeId;
const CM = PUBLISHED.configMapName;
const VERIFIED = PUBLISHED.genome;

function resource(status: GenomeResource['status'], generation = 2): GenomeResource {
  return { ...VERIFIED, metadata: { ...VERIFIED.metadata, generation }, status };
}

/** The webhook's caches holding `found` (default: the verified Genome) and `configMaps`. */
const source = (
  found: GenomeResource | undefined = VERIFIED,
  configMaps: object[] = [PUBLISHED.configMap],
) => publishedSource(found, configMaps);

function pod(annotations: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  return {
    metadata: { labels: { 'genome.mathison.io/genome': 'totk', app: 'm' }, annotations },
    spec: {
      containers: [
        { name: 'app', image: 'mathison', env: [{ name: 'A', value: '1' }] },
        { name: 'sidecar', image: 'proxy' },
      ],
      ...extra,
    },
  };
}

/** Applies a plan's `add` operations (top-level members of metadata and spec only). */
function applyPatch(object: unknown, patch: PatchOperation[]): Record<string, any> {
  const out = structuredClone(object) as Record<string, any>;
  for (const op of patch) {
    const [, part, key] = op.path.split('/') as [string, string, string];
    out[part] = { ...out[part], [key]: op.value };
  }
  return out;
}

/** Settings of a cluster that allows the opt-out annotations (a weaker guarantee). */
const OPT_OUT = { ...SETTINGS, allowOptOut: true };

function injectedPod(input: unknown, settings = SETTINGS) {
  const plan = planInjection(input, 'apps', source(), settings);
  if (!plan.ok) throw new Error(plan.refusal.message);
  return applyPatch(input, plan.patch);
}

describe('planInjection for a verified Genome', () => {
  it('mounts the published ConfigMap read-only in every container, sets the variable, id, gate, boot check and status', () => {
    const out = injectedPod(pod());
    expect(out.spec.volumes).toEqual([
      { name: 'mathison-genome', configMap: { name: CM, defaultMode: 0o444 } },
    ]);
    for (const c of out.spec.containers) {
      expect(c.volumeMounts).toEqual([
        { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true },
      ]);
      expect(c.env).toContainEqual({
        name: 'MATHISON_GENOME_PATH',
        value: '/etc/mathison/genome/genome.json',
      });
    }
    expect(out.spec.containers[0].env[0]).toEqual({ name: 'A', value: '1' });
    expect(out.metadata.annotations['genome.mathison.io/id']).toBe(ID);
    expect(out.spec.readinessGates).toEqual([{ conditionType: 'genome.mathison.io/verified' }]);
    expect(out.spec.initContainers).toHaveLength(1);
    expect(out.spec.initContainers[0]).toMatchObject({
      name: 'genome-verify',
      image: SETTINGS.image,
      imagePullPolicy: 'Never',
      args: ['/app/genome-boot-check.mjs'],
      env: [
        { name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' },
        { name: 'GENOME_EXPECTED_ID', value: ID },
      ],
      securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true },
    });
    expect(JSON.parse(out.metadata.annotations[INJECTION_STATUS_ANNOTATION])).toEqual({
      genomeId: ID,
      configMap: CM,
      containers: ['app', 'sidecar'],
      bootCheck: true,
    });
  });

  it.each([
    ['a fresh pod', pod()],
    [
      'a pod with its own init container and gate',
      pod(
        {},
        {
          initContainers: [{ name: 'migrate', image: 'x' }],
          readinessGates: [{ conditionType: 'other' }],
        },
      ),
    ],
    ['a pod that names one container', pod({ [GENOME_CONTAINERS_ANNOTATION]: 'app' })],
    ['a pod without the boot check', pod({ [BOOT_CHECK_ANNOTATION]: 'false' })],
  ])('is idempotent: reinvocation on %s changes nothing', (_what, input) => {
    const once = injectedPod(input, OPT_OUT);
    const again = planInjection(once, 'apps', source(), OPT_OUT);
    expect(again).toMatchObject({ ok: true, patch: [] });
  });

  it('is idempotent on the pod as the API server sends it back on reinvocation', () => {
    // What happens between the first call and the reinvocation: the object comes back in Go's
    // field order (not ours), defaulted (terminationMessagePath), and the ServiceAccount plugin
    // has mounted its token into every container, the injected init container too.
    const token = {
      name: 'kube-api-access-x1',
      readOnly: true,
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
    };
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([k, v]) => [k, reversed(v)]),
            )
          : value;
    const once = injectedPod(pod());
    for (const c of [...once.spec.containers, ...once.spec.initContainers]) {
      c.volumeMounts = [...(c.volumeMounts ?? []), token];
      c.terminationMessagePath = '/dev/termination-log';
    }
    const returned = reversed(once);
    expect(planInjection(returned, 'apps', source(), SETTINGS)).toMatchObject({
      ok: true,
      patch: [],
    });
  });

  it('sets its own fields of a changed boot check again and keeps what others added', () => {
    const once = injectedPod(pod());
    const check = once.spec.initContainers[0];
    check.image = 'someone-else:latest';
    check.volumeMounts.push({
      name: 'kube-api-access-x1',
      readOnly: true,
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
    });
    const out = injectedPod(once);
    expect(out.spec.initContainers).toHaveLength(1);
    expect(out.spec.initContainers[0]).toMatchObject({ image: SETTINGS.image });
    expect(out.spec.initContainers[0].volumeMounts).toHaveLength(2);
  });

  it('keeps nothing of a genome-verify container the pod brings that could skip or fool the check', () => {
    // A pod that names its own init container genome-verify must not be able to replace the
    // check's program, run it as a sidecar, feed it NODE_OPTIONS or shadow /app.
    const forged = {
      name: 'genome-verify',
      image: 'evil:1',
      command: ['/bin/true'],
      restartPolicy: 'Always',
      envFrom: [{ configMapRef: { name: 'node-options' } }],
      workingDir: '/tmp',
      stdin: true,
      lifecycle: { postStart: { exec: { command: ['x'] } } },
      volumeMounts: [
        { name: 'fake', mountPath: '/app' },
        { name: 'fake', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
      ],
      terminationMessagePath: '/app/genome-boot-check.mjs',
    };
    const out = injectedPod(pod({}, { initContainers: [forged] }));
    expect(out.spec.initContainers).toHaveLength(1);
    const check = out.spec.initContainers[0];
    for (const field of ['command', 'restartPolicy', 'envFrom', 'workingDir', 'stdin', 'lifecycle'])
      expect(check).not.toHaveProperty(field);
    expect(check.image).toBe(SETTINGS.image);
    // Only the genome mount, and a read-only mount of the ServiceAccount token, survive.
    expect(check.volumeMounts).toEqual([
      { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true },
    ]);
    // The kubelet mounts a file at terminationMessagePath: over the program, it would empty it.
    expect(check.terminationMessagePath).toBe('/dev/termination-log');
  });

  it('leaves no other mount under the genome path and one MATHISON_GENOME_PATH in each container', () => {
    // A deeper mount is applied after the genome's and would sit on top of genome.json; the
    // kubelet takes the last of two entries of one variable.
    const out = injectedPod(
      pod(
        {},
        {
          containers: [
            {
              name: 'app',
              image: 'x',
              volumeMounts: [
                { name: 'fake', mountPath: '/etc/mathison/genome/genome.json', subPath: 'g.json' },
                { name: 'fake', mountPath: '/etc/mathison/genome//' },
                { name: 'data', mountPath: '/data' },
              ],
              env: [
                { name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' },
                { name: 'MATHISON_GENOME_PATH', value: '/data/fake.json' },
              ],
            },
          ],
        },
      ),
    );
    const app = out.spec.containers[0];
    expect(app.volumeMounts).toEqual([
      { name: 'data', mountPath: '/data' },
      { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true },
    ]);
    expect(app.env).toEqual([
      { name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' },
    ]);
    expect(planInjection(out, 'apps', source(), SETTINGS)).toMatchObject({ ok: true, patch: [] });
  });

  it('keeps the pod’s own init containers after the boot check, and its own gates', () => {
    const out = injectedPod(
      pod(
        {},
        {
          initContainers: [{ name: 'migrate', image: 'x' }],
          readinessGates: [{ conditionType: 'other' }],
        },
      ),
    );
    expect(out.spec.initContainers.map((c: { name: string }) => c.name)).toEqual([
      'genome-verify',
      'migrate',
    ]);
    expect(out.spec.readinessGates).toEqual([
      { conditionType: 'other' },
      { conditionType: 'genome.mathison.io/verified' },
    ]);
  });

  it('narrows the mount to the containers the annotation names, where the cluster allows it', () => {
    const out = injectedPod(pod({ [GENOME_CONTAINERS_ANNOTATION]: ' app ' }), OPT_OUT);
    expect(out.spec.containers[0].volumeMounts).toHaveLength(1);
    expect(out.spec.containers[1].volumeMounts).toBeUndefined();
    expect(out.spec.containers[1].env).toBeUndefined();
  });

  it('leaves the boot check out when the annotation says false, where the cluster allows it', () => {
    const out = injectedPod(pod({ [BOOT_CHECK_ANNOTATION]: 'false' }), OPT_OUT);
    expect(out.spec.initContainers).toBeUndefined();
    expect(out.spec.readinessGates).toHaveLength(1);
  });

  it('removes a relative mount over the genome, as it removes an absolute one', () => {
    const out = injectedPod(
      pod(
        {},
        {
          containers: [
            {
              name: 'app',
              image: 'mathison',
              volumeMounts: [
                { name: 'evil', mountPath: 'etc/mathison/genome/genome.json', subPath: 'g' },
              ],
            },
          ],
        },
      ),
    );
    expect(out.spec.containers[0].volumeMounts).toEqual([
      { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true },
    ]);
  });

  it('gives the genome to a native sidecar (an init container that keeps running)', () => {
    const out = injectedPod(
      pod({}, { initContainers: [{ name: 'proxy', image: 'p', restartPolicy: 'Always' }] }),
    );
    const proxy = out.spec.initContainers.find((c: { name: string }) => c.name === 'proxy');
    expect(proxy.volumeMounts).toEqual([
      { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true },
    ]);
    expect(proxy.env).toContainEqual({
      name: 'MATHISON_GENOME_PATH',
      value: '/etc/mathison/genome/genome.json',
    });
  });

  it('moves a pod created from an older publication to the current ConfigMap and id', () => {
    const old = injectedPod(pod());
    old.spec.volumes[0].configMap.name = 'totk-000000000000';
    old.metadata.annotations['genome.mathison.io/id'] = 'f'.repeat(64);
    const out = injectedPod(old);
    expect(out.spec.volumes[0].configMap.name).toBe(CM);
    expect(out.metadata.annotations['genome.mathison.io/id']).toBe(ID);
    expect(out.spec.initContainers[0].env[1].value).toBe(ID);
  });
});

const condition = (status: 'True' | 'False', reason: string, message: string) => [
  { type: 'Verified' as const, status, reason, message, lastTransitionTime: 't' },
];

describe('planInjection refuses (fail closed)', () => {
  it.each([
    ['a missing Genome', pod(), undefined, 'GENOME_MISSING', 'Genome apps/totk does not exist'],
    [
      'a Genome with no status yet',
      pod(),
      resource(undefined),
      'GENOME_NOT_VERIFIED',
      'not verified yet',
    ],
    [
      'a refused Genome, with its reason',
      pod(),
      resource({
        observedGeneration: 2,
        conditions: condition('False', 'GENOME_UNTRUSTED_SIGNER', 'key k is not trusted'),
      }),
      'GENOME_NOT_VERIFIED',
      'GENOME_UNTRUSTED_SIGNER: key k is not trusted',
    ],
    [
      'a Genome verified at an older generation',
      pod(),
      resource({ ...VERIFIED.status, observedGeneration: 1 }),
      'GENOME_NOT_VERIFIED',
      'generation 2 is not verified yet',
    ],
    [
      'a verified Genome not published yet',
      pod(),
      resource({ ...VERIFIED.status, configMapName: undefined }),
      'GENOME_NOT_VERIFIED',
      'not published yet',
    ],
    [
      'by default, a containers annotation that leaves a container without the genome',
      pod({ [GENOME_CONTAINERS_ANNOTATION]: 'app' }),
      VERIFIED,
      'POD_GENOME_ANNOTATION_INVALID',
      'leaves sidecar without the genome',
    ],
    [
      'by default, a boot-check annotation that leaves the boot check out',
      pod({ [BOOT_CHECK_ANNOTATION]: 'false' }),
      VERIFIED,
      'POD_GENOME_ANNOTATION_INVALID',
      'leaves the boot check out',
    ],
    [
      'a mount over a directory above the genome (its gate would never open)',
      pod(
        {},
        {
          containers: [
            { name: 'app', image: 'm', volumeMounts: [{ name: 'x', mountPath: '/etc/mathison' }] },
          ],
        },
      ),
      VERIFIED,
      'POD_INJECTION_INCOMPLETE',
      'over the genome',
    ],
    [
      'a containers annotation naming no container of the pod',
      pod({ [GENOME_CONTAINERS_ANNOTATION]: 'app,nope' }),
      VERIFIED,
      'POD_GENOME_ANNOTATION_INVALID',
      'nope',
    ],
  ])('%s', (...[, input, found, code, text]) => {
    const plan = planInjection(
      input,
      'apps',
      publishedSource(found, [PUBLISHED.configMap]),
      SETTINGS,
    );
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.refusal.code).toBe(code);
    expect(plan.refusal.message).toContain(text);
  });

  it('escapes genome-controlled text in the reason', () => {
    const hostile = resource({ conditions: condition('False', 'X', 'evil\u001b[2J') });
    const plan = planInjection(pod(), 'apps', source(hostile), SETTINGS);
    expect(plan.ok || plan.refusal.message).not.toContain('\u001b');
  });
});

describe('the injected boot check runs where the platform decides the user', () => {
  it('asks for RuntimeDefault seccomp and a non-root user, and fixes no UID', () => {
    const check = injectedPod(pod()).spec.initContainers[0];
    expect(check.securityContext).toEqual({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });
});

describe('planInjection injects only the Genome’s own publication (GENOME_PUBLICATION_INVALID)', () => {
  const tenant = keyPair('tenant-key');
  const other = publishedGenome({
    name: 'totk',
    namespace: 'apps',
    genome: genome(declaring(tenant), named('FORGED')),
    generation: 2,
  });
  const withStatus = (status: Partial<NonNullable<GenomeResource['status']>>) =>
    resource({ ...VERIFIED.status, ...status });
  /** The published ConfigMap with some fields replaced. */
  const cm = (change: (c: Record<string, any>) => void) => {
    const copy = structuredClone(PUBLISHED.configMap) as Record<string, any>;
    change(copy);
    return copy;
  };
  const tenantCm = { metadata: { name: 'my-forged-cm', namespace: 'apps' }, data: {} };

  it.each([
    [
      'a status that names a tenant ConfigMap',
      withStatus({ configMapName: 'my-forged-cm' }),
      [PUBLISHED.configMap, tenantCm],
      "not the operator's name for that genome id",
    ],
    [
      'a status that names another genome’s id and its well-formed ConfigMap',
      withStatus({ genomeId: other.genomeId, configMapName: other.configMapName }),
      [PUBLISHED.configMap, other.configMap],
      'not the id of its spec.genome',
    ],
    [
      'a status whose genome id is not a SHA-256',
      withStatus({ genomeId: 'x'.repeat(10_000) }),
      [PUBLISHED.configMap],
      'not a genome id',
    ],
    ['a ConfigMap the webhook has not seen', VERIFIED, [], 'is not among the published ConfigMaps'],
    [
      'a ConfigMap controlled by nothing',
      VERIFIED,
      [cm((c) => (c.metadata.ownerReferences = []))],
      'not controlled by this Genome',
    ],
    [
      'a ConfigMap controlled by another Genome (uid)',
      VERIFIED,
      [cm((c) => (c.metadata.ownerReferences[0].uid = 'another-uid'))],
      'not controlled by this Genome',
    ],
    [
      'a ConfigMap owned by the Genome but not as its controller',
      VERIFIED,
      [cm((c) => (c.metadata.ownerReferences[0].controller = false))],
      'not controlled by this Genome',
    ],
    ['a mutable ConfigMap', VERIFIED, [cm((c) => delete c.immutable)], 'is not immutable'],
    [
      'a ConfigMap holding another genome',
      VERIFIED,
      [cm((c) => (c.data['genome.json'] = other.configMap.data['genome.json']))],
      'whose genome id is not the verified one',
    ],
    [
      'a ConfigMap whose genome.json has a duplicate key',
      VERIFIED,
      [cm((c) => (c.data['genome.json'] = c.data['genome.json'].replace('{', '{"name":"x",')))],
      'holds no valid genome.json',
    ],
    [
      'a ConfigMap without genome.json',
      VERIFIED,
      [cm((c) => (c.data = {}))],
      'holds no valid genome.json',
    ],
  ])('refuses %s', (_what, found, configMaps, text) => {
    const plan = planInjection(pod(), 'apps', source(found, configMaps), SETTINGS);
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.refusal.code).toBe('GENOME_PUBLICATION_INVALID');
    expect(plan.refusal.message).toContain(text);
    expect(plan.refusal.message.length).toBeLessThan(1200);
  });

  it('refuses a pod naming a Genome that is being deleted (GENOME_NOT_VERIFIED)', () => {
    const deleting = {
      ...VERIFIED,
      metadata: { ...VERIFIED.metadata, deletionTimestamp: '2026-12-01T00:00:00Z' },
    };
    const plan = planInjection(pod(), 'apps', source(deleting), SETTINGS);
    expect(plan).toMatchObject({ ok: false, refusal: { code: 'GENOME_NOT_VERIFIED' } });
  });
});
