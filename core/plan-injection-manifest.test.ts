import { describe, expect, it } from 'vitest';
import {
  declaring,
  genome,
  keyPair,
  publishedGenome,
  publishedSource,
} from '../test/builders/index.ts';
import {
  APP_IMAGE_MOUNT_ROOT,
  MANIFEST_CHECKS_ENV,
  planInjection,
  TERMINATION_PATH_ENV,
  type PatchOperation,
} from './plan-injection.ts';

const SETTINGS = { image: 'genome.local/genome-operator:v1', imagePullPolicy: 'Never' };
const PUBLISHED = publishedGenome({
  name: 'totk',
  namespace: 'apps',
  genome: genome(declaring(keyPair('k-1'))),
  generation: 2,
});
const source = () => publishedSource(PUBLISHED.genome, [PUBLISHED.configMap]);

function pod(containers: object[]) {
  return { metadata: { labels: { 'genome.mathison.io/genome': 'totk' } }, spec: { containers } };
}

const app = (extra: object) => ({ name: 'app', image: 'mathison:1', ...extra });
const PROD = [{ name: 'MATHISON_ENV', value: 'production' }];

function applyPatch(object: unknown, patch: PatchOperation[]): Record<string, any> {
  const out = structuredClone(object) as Record<string, any>;
  for (const op of patch) {
    const [, part, key] = op.path.split('/') as [string, string, string];
    out[part] = { ...out[part], [key]: op.value };
  }
  return out;
}

function injected(input: unknown) {
  const plan = planInjection(input, 'apps', source(), SETTINGS);
  if (!plan.ok) throw new Error(plan.refusal.message);
  return applyPatch(input, plan.patch);
}

function checksOf(out: Record<string, any>) {
  const env = out.spec.initContainers[0].env as { name: string; value: string }[];
  const found = env.find((e) => e.name === MANIFEST_CHECKS_ENV);
  return found === undefined ? undefined : JSON.parse(found.value);
}

describe('planInjection for an application container in production mode', () => {
  it('mounts its own image read-only into the boot check and says which root and rules to check', () => {
    const input = pod([
      app({ env: PROD, workingDir: '/app', imagePullPolicy: 'IfNotPresent' }),
      { name: 'sidecar', image: 'proxy:1' },
    ]);
    const out = injected(input);
    expect(out.spec.volumes).toContainEqual({
      name: 'mathison-app-image-0',
      image: { reference: 'mathison:1', pullPolicy: 'IfNotPresent' },
    });
    expect(out.spec.volumes).toHaveLength(2);
    const check = out.spec.initContainers[0];
    expect(check.volumeMounts).toContainEqual({
      name: 'mathison-app-image-0',
      mountPath: `${APP_IMAGE_MOUNT_ROOT}/0`,
      readOnly: true,
    });
    expect(check.env).toContainEqual({
      name: TERMINATION_PATH_ENV,
      value: '/dev/termination-log',
    });
    expect(check.terminationMessagePolicy).toBe('File');
    expect(checksOf(out)).toEqual([
      {
        container: 'app',
        image: 'mathison:1',
        root: `${APP_IMAGE_MOUNT_ROOT}/0/app`,
        production: true,
      },
    ]);
    // The application containers themselves are not given the image volume.
    for (const c of out.spec.containers)
      expect(c.volumeMounts.map((m: any) => m.name)).toEqual(['mathison-genome']);
  });

  it('takes MATHISON_REPO_ROOT over workingDir (a relative one under workingDir), the last entry of a name winning', () => {
    const env = [
      ...PROD,
      { name: 'MATHISON_REPO_ROOT', value: '/elsewhere' },
      { name: 'MATHISON_REPO_ROOT', value: 'srv/../repo' },
    ];
    const out = injected(pod([app({ env, workingDir: '/work' })]));
    expect(checksOf(out)[0].root).toBe(`${APP_IMAGE_MOUNT_ROOT}/0/work/repo`);
  });

  it('uses development rules under MATHISON_VERIFY_MANIFEST=true alone, production ones with MATHISON_USE_DIST', () => {
    const verify = [{ name: 'MATHISON_VERIFY_MANIFEST', value: 'true' }];
    const dev = injected(pod([app({ env: verify, workingDir: '/app' })]));
    expect(checksOf(dev)[0].production).toBe(false);
    const dist = [...verify, { name: 'MATHISON_USE_DIST', value: 'true' }];
    expect(checksOf(injected(pod([app({ env: dist, workingDir: '/app' })])))[0].production).toBe(
      true,
    );
  });

  it.each([
    ['MATHISON_ENV by valueFrom', [{ name: 'MATHISON_ENV', valueFrom: { configMapKeyRef: {} } }]],
    [
      'MATHISON_VERIFY_MANIFEST by valueFrom',
      [{ name: 'MATHISON_VERIFY_MANIFEST', valueFrom: { secretKeyRef: {} } }],
    ],
    ['MATHISON_ENV by a $(reference)', [{ name: 'MATHISON_ENV', value: '$(MODE)' }]],
    [
      'MATHISON_USE_DIST by valueFrom, with verification on',
      [
        { name: 'MATHISON_VERIFY_MANIFEST', value: 'true' },
        { name: 'MATHISON_USE_DIST', valueFrom: { fieldRef: {} } },
      ],
    ],
  ])('counts %s as verifying (unknown at admission: fail closed)', (what, env) => {
    const checks = checksOf(injected(pod([app({ env, workingDir: '/app' })])));
    expect(checks).toHaveLength(1);
    // Production rules (dist paths, placeholders refused) where the unknown value decides them.
    expect(checks[0].production).toBe(!what.startsWith('MATHISON_VERIFY_MANIFEST'));
  });

  it('checks each production container against its own image, and defaults a pull policy as the API server does', () => {
    const out = injected(
      pod([
        app({ env: PROD, workingDir: '/app' }),
        { name: 'two', image: 'other:latest', env: PROD, workingDir: '/srv' },
      ]),
    );
    expect(checksOf(out).map((c: any) => [c.container, c.image, c.root])).toEqual([
      ['app', 'mathison:1', `${APP_IMAGE_MOUNT_ROOT}/0/app`],
      ['two', 'other:latest', `${APP_IMAGE_MOUNT_ROOT}/1/srv`],
    ]);
    expect(out.spec.volumes).toContainEqual({
      name: 'mathison-app-image-1',
      image: { reference: 'other:latest', pullPolicy: 'Always' },
    });
    expect(out.spec.volumes).toContainEqual({
      name: 'mathison-app-image-0',
      image: { reference: 'mathison:1', pullPolicy: 'IfNotPresent' },
    });
  });

  it('is idempotent, the ServiceAccount token mount added after it kept', () => {
    const input = pod([app({ env: PROD, workingDir: '/app' })]);
    const once = injected(input);
    const token = {
      name: 'kube-api',
      mountPath: '/var/run/secrets/kubernetes.io/sa',
      readOnly: true,
    };
    once.spec.initContainers[0].volumeMounts.push(token);
    const plan = planInjection(once, 'apps', source(), SETTINGS);
    expect(plan.ok && plan.patch).toEqual([]);
  });

  it.each([
    ['neither MATHISON_REPO_ROOT nor workingDir', {}],
    ['a relative MATHISON_REPO_ROOT and no workingDir', { repo: 'app' }],
    ['MATHISON_REPO_ROOT by valueFrom', { repo: undefined, from: true, workingDir: '/app' }],
    ['a relative workingDir', { workingDir: 'app' }],
  ])('refuses GENOME_MANIFEST_ROOT_UNKNOWN with %s', (_what, how: any) => {
    const env: object[] = [...PROD];
    if (how.repo !== undefined) env.push({ name: 'MATHISON_REPO_ROOT', value: how.repo });
    if (how.from) env.push({ name: 'MATHISON_REPO_ROOT', valueFrom: { fieldRef: {} } });
    const extra = how.workingDir === undefined ? {} : { workingDir: how.workingDir };
    const plan = planInjection(pod([app({ env, ...extra })]), 'apps', source(), SETTINGS);
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.refusal.code).toBe('GENOME_MANIFEST_ROOT_UNKNOWN');
    expect(plan.refusal.message).toContain('app');
    expect(plan.refusal.message).toContain('MATHISON_REPO_ROOT');
    expect(plan.refusal.message).toContain('workingDir');
  });

  it('escapes the container name in the refusal', () => {
    const input = pod([{ name: 'a\u001b[2J', image: 'm', env: PROD }]);
    const plan = planInjection(input, 'apps', source(), SETTINGS);
    expect(plan.ok || plan.refusal.message).not.toContain('\u001b');
  });
});

describe('planInjection for a development-mode pod', () => {
  it.each([
    ['no MATHISON_ENV', []],
    ['MATHISON_ENV=development', [{ name: 'MATHISON_ENV', value: 'development' }]],
    ['MATHISON_VERIFY_MANIFEST=false', [{ name: 'MATHISON_VERIFY_MANIFEST', value: 'false' }]],
  ])('injects as before with %s: no image volume, no manifest check', (_what, env) => {
    const out = injected(pod([app({ env })]));
    expect(out.spec.volumes).toHaveLength(1);
    expect(out.spec.initContainers[0].volumeMounts).toHaveLength(1);
    expect(out.spec.initContainers[0].env.map((e: any) => e.name)).toEqual([
      'MATHISON_GENOME_PATH',
      'GENOME_EXPECTED_ID',
    ]);
  });
});
