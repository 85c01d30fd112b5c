import { describe, expect, it } from 'vitest';
import type { GenomeResource, RolloutPolicy } from '../core/api.ts';
import {
  decideRollouts,
  pendingNote,
  rolledOutNotes,
  selects,
  shrinkWorkload,
  stampPatch,
  type RolloutInput,
} from './rollout.ts';
import type { CachedPod, CachedWorkload } from './cached.ts';

const OLD = 'a'.repeat(64);
const NEW = 'b'.repeat(64);
const LABEL = 'genome.mathison.io/genome';
const ID = 'genome.mathison.io/id';

/** A Genome `app` in `apps` whose stored status publishes `published` (null: no status yet). */
function genome(
  published: string | null = NEW,
  rollout?: RolloutPolicy,
  observed = 3,
): GenomeResource {
  const verified = {
    type: 'Verified' as const,
    status: 'True' as const,
    reason: 'Verified',
    message: 'ok',
    lastTransitionTime: '2026-12-01T00:00:00Z',
  };
  return {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: { name: 'app', namespace: 'apps', uid: 'uid-1', generation: 3 },
    spec: { genome: {}, ...(rollout && { rollout }) },
    ...(published && {
      status: {
        observedGeneration: observed,
        genomeId: published,
        configMapName: `app-${published.slice(0, 12)}`,
        conditions: [verified],
      },
    }),
  };
}

/**
 * A workload whose template names `genomeName` and carries the id annotation `stamped`; its own
 * genome label (the opt-in) names `optIn`, by default the same Genome ('': no label).
 */
function workload(
  name: string,
  options: {
    stamped?: string;
    genomeName?: string;
    optIn?: string;
    kind?: string;
    namespace?: string;
  } = {},
): CachedWorkload {
  const { stamped, genomeName = 'app', optIn, kind = 'Deployment', namespace = 'apps' } = options;
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      ...(optIn !== '' && { labels: { [LABEL]: optIn ?? genomeName } }),
    },
    spec: {
      selector: { matchLabels: { run: name } },
      template: {
        metadata: {
          labels: { run: name, ...(genomeName && { [LABEL]: genomeName }) },
          ...(stamped && { annotations: { [ID]: stamped } }),
        },
      },
    },
  };
}

/** A pod of workload `run` admitted with genome id `id` (undefined: no annotation). */
function pod(run: string, id: string | undefined, extra: Partial<CachedPod> = {}): CachedPod {
  return {
    metadata: {
      namespace: 'apps',
      labels: { run, [LABEL]: 'app' },
      ...(id && { annotations: { [ID]: id } }),
      ...extra.metadata,
    },
    status: { phase: 'Running', ...extra.status },
  };
}

function input(overrides: Partial<RolloutInput>): RolloutInput {
  return { genome: genome(), verifiedId: NEW, workloads: [], pods: [], ...overrides };
}

const rolled = (i: RolloutInput) =>
  decideRollouts(i).roll.map((r) => `${r.kind}/${r.name} ${r.from?.[0] ?? '-'}→${r.to[0]}`);

describe('decideRollouts: which workloads get the new id stamped on their pod template', () => {
  const table: [string, Partial<RolloutInput>, string[]][] = [
    [
      'a template stamped with the old id is rolled',
      { workloads: [workload('web', { stamped: OLD })] },
      ['Deployment/web a→b'],
    ],
    [
      'a template already stamped with the current id is left alone, even while old pods are replaced',
      { workloads: [workload('web', { stamped: NEW })], pods: [pod('web', OLD)] },
      [],
    ],
    [
      'an unstamped template whose running pods carry the old id is rolled (the first change after creation)',
      { workloads: [workload('web')], pods: [pod('web', NEW), pod('web', OLD)] },
      ['Deployment/web a→b'],
    ],
    [
      'a template stamped with an old id whose live pods all run the current id (restarted by hand) is not rolled again',
      { workloads: [workload('web', { stamped: OLD })], pods: [pod('web', NEW), pod('web', NEW)] },
      [],
    ],
    [
      'an unstamped template whose pods the webhook admitted with the current id is not rolled again',
      { workloads: [workload('web')], pods: [pod('web', NEW), pod('web', NEW)] },
      [],
    ],
    [
      'an unstamped template with no pods yet is not rolled: its pods will get the current id',
      { workloads: [workload('web')] },
      [],
    ],
    [
      'a pod admitted without injection (no id annotation) does not run the current genome: rolled',
      { workloads: [workload('web')], pods: [pod('web', undefined)] },
      ['Deployment/web -→b'],
    ],
    [
      'pods that are terminating or finished do not count',
      {
        workloads: [workload('web')],
        pods: [
          pod('web', OLD, { metadata: { deletionTimestamp: new Date() } }),
          pod('web', OLD, { status: { phase: 'Succeeded' } }),
          pod('web', OLD, { status: { phase: 'Failed' } }),
        ],
      },
      [],
    ],
    [
      "another workload's pods (its selector does not select them) do not count",
      { workloads: [workload('web')], pods: [pod('api', OLD)] },
      [],
    ],
    [
      'Deployments and StatefulSets both roll, in a stable order',
      {
        workloads: [
          workload('web', { stamped: OLD, kind: 'StatefulSet' }),
          workload('api', { stamped: OLD }),
        ],
      },
      ['Deployment/api a→b', 'StatefulSet/web a→b'],
    ],
    [
      'a template naming another Genome, no Genome, or in another namespace is untouched',
      {
        workloads: [
          workload('other', { stamped: OLD, genomeName: 'other' }),
          workload('plain', { stamped: OLD, genomeName: '' }),
          workload('elsewhere', { stamped: OLD, namespace: 'prod' }),
        ],
      },
      [],
    ],
    [
      'a workload that does not opt in (no genome label of its own) is untouched, whatever its template names',
      { workloads: [workload('web', { stamped: OLD, optIn: '' })] },
      [],
    ],
    [
      'a workload whose own label names another Genome than its template is untouched',
      { workloads: [workload('web', { stamped: OLD, optIn: 'other' })] },
      [],
    ],
    [
      'a workload being deleted is not rolled',
      {
        workloads: [
          {
            ...workload('web', { stamped: OLD }),
            metadata: { name: 'web', namespace: 'apps', deletionTimestamp: new Date() },
          },
        ],
      },
      [],
    ],
    [
      'nothing rolls while the genome is refused (a key was revoked)',
      { verifiedId: undefined, workloads: [workload('web', { stamped: OLD })] },
      [],
    ],
    [
      'nothing rolls before the stored status publishes the verified id (the webhook injects from it)',
      { genome: genome(OLD), workloads: [workload('web', { stamped: OLD })] },
      [],
    ],
    [
      'nothing rolls while the status is of an older generation',
      { genome: genome(NEW, undefined, 2), workloads: [workload('web', { stamped: OLD })] },
      [],
    ],
    [
      'nothing rolls before the Genome has any status',
      { genome: genome(null), workloads: [workload('web', { stamped: OLD })] },
      [],
    ],
  ];
  it.each(table)('%s', (_name, overrides, expected) => {
    expect(rolled(input(overrides))).toEqual(expected);
  });

  it('under spec.rollout Manual, stamps nothing and reports what would have rolled', () => {
    const plan = decideRollouts(
      input({
        genome: genome(NEW, 'Manual'),
        workloads: [workload('web', { stamped: OLD }), workload('db', { kind: 'StatefulSet' })],
        pods: [pod('db', OLD)],
      }),
    );
    expect(plan.roll).toEqual([]);
    expect(plan.pending.map((r) => `${r.kind}/${r.name}`)).toEqual([
      'Deployment/web',
      'StatefulSet/db',
    ]);
    expect(pendingNote(plan.pending, NEW)).toBe(
      'spec.rollout is Manual: Deployment web, StatefulSet db still run an older genome than bbbbbbbbbbbb; kubectl rollout restart rolls them',
    );
  });

  it('under Manual, a workload restarted by hand onto the current id is no longer reported', () => {
    const plan = decideRollouts(
      input({
        genome: genome(NEW, 'Manual'),
        workloads: [workload('web', { stamped: OLD })],
        pods: [pod('web', NEW)],
      }),
    );
    expect(plan.pending).toEqual([]);
  });

  it('spec.rollout Automatic is the same as no spec.rollout', () => {
    const workloads = [workload('web', { stamped: OLD })];
    expect(rolled(input({ genome: genome(NEW, 'Automatic'), workloads }))).toEqual(
      rolled(input({ workloads })),
    );
  });

  it('says why nothing is considered', () => {
    expect(decideRollouts(input({ verifiedId: undefined })).held).toBe(
      'the genome is not verified',
    );
    expect(decideRollouts(input({ genome: genome(OLD) })).held).toMatch(/does not publish/);
  });
});

describe('selects', () => {
  const labels = { app: 'web', tier: 'front' };
  it.each([
    ['matchLabels that all match', { matchLabels: { app: 'web' } }, true],
    ['matchLabels with one other value', { matchLabels: { app: 'web', tier: 'back' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] }, true],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, false],
    ['NotIn on a missing key', { matchExpressions: [{ key: 'x', operator: 'NotIn' }] }, true],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['an unknown operator', { matchExpressions: [{ key: 'app', operator: 'Gt' }] }, false],
    ['an empty selector (selects nothing here)', {}, false],
  ])('%s', (_name, selector, expected) => {
    expect(selects(selector, labels)).toBe(expected);
  });
});

describe('shrinkWorkload (the operator workload cache transform)', () => {
  const KIB = 1024;
  const full = (
    labels?: Record<string, string>,
    selector: object = { matchLabels: { run: 'web' } },
  ) =>
    ({
      metadata: {
        name: 'web',
        namespace: 'apps',
        uid: 'u',
        resourceVersion: '7',
        ...(labels && { labels: { team: 'a', ...labels } }),
        managedFields: [{ manager: 'kubectl' }],
        annotations: { big: 'x'.repeat(1000) },
      },
      spec: {
        replicas: 0,
        selector,
        template: {
          metadata: {
            labels: { run: 'web', tier: 'front', [LABEL]: 'app' },
            annotations: { [ID]: OLD, big: 'a'.repeat(250 * KIB) },
          },
          spec: { containers: [{ name: 'app', image: 'x' }] },
        },
      },
      status: { replicas: 3 },
    }) as CachedWorkload;
  const shrink = shrinkWorkload('Deployment', 'apps/v1');
  const identity = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'apps', uid: 'u', resourceVersion: '7' },
  };

  it('keeps an opted-in workload with 250 KiB of template annotations in a small bounded shape: identity, its genome label, selector, the template genome label and id', () => {
    const cached = shrink(full({ [LABEL]: 'app' }));
    expect(cached).toEqual({
      ...identity,
      metadata: { ...identity.metadata, labels: { [LABEL]: 'app' } },
      spec: {
        selector: { matchLabels: { run: 'web' } },
        template: { metadata: { labels: { [LABEL]: 'app' }, annotations: { [ID]: OLD } } },
      },
    });
    expect(JSON.stringify(cached).length).toBeLessThan(512);
  });

  it('keeps a workload that does not opt in by its identity alone (not rolled)', () => {
    expect(shrink(full())).toEqual(identity);
    expect(shrink(full({ [LABEL]: '' }))).toEqual(identity);
  });

  it('keeps a workload with an absurdly large selector by its identity alone (not rolled)', () => {
    const matchLabels = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v']));
    expect(shrink(full({ [LABEL]: 'app' }, { matchLabels }))).toEqual(identity);
    const matchExpressions = [
      { key: 'run', operator: 'In', values: Array.from({ length: 5000 }, (_, i) => `v${i}`) },
    ];
    expect(shrink(full({ [LABEL]: 'app' }, { matchExpressions }))).toEqual(identity);
  });

  it('keeps a selector of ordinary size, expressions included, and nothing else of it', () => {
    const selector = {
      matchLabels: { run: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'], extra: 'x' }],
    };
    expect(shrink(full({ [LABEL]: 'app' }, selector)).spec?.selector).toEqual({
      matchLabels: { run: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }],
    });
  });

  it.each([
    ['no metadata or spec', {}],
    [
      'fields of the wrong types',
      { metadata: { labels: 7 }, spec: { selector: 'x', template: [] } },
    ],
    [
      'a selector of the wrong shape',
      {
        metadata: { labels: { [LABEL]: 'app' } },
        spec: { selector: { matchExpressions: [null, 'x'] } },
      },
    ],
  ])('never throws on %s', (_name, object) => {
    expect(() => shrink(object as CachedWorkload)).not.toThrow();
  });
});

describe('what a rollout writes and says', () => {
  it('patches only the id annotation of the pod template', () => {
    expect(stampPatch(NEW)).toEqual({
      spec: { template: { metadata: { annotations: { [ID]: NEW } } } },
    });
  });

  it('names the workload and both short ids, escaping the names', () => {
    const [r] = decideRollouts(input({ workloads: [workload('web', { stamped: OLD })] })).roll;
    expect(rolledOutNotes(r!, 'app')).toEqual({
      genome: 'rolled Deployment web to genome bbbbbbbbbbbb (was aaaaaaaaaaaa)',
      workload:
        'pod template stamped with genome bbbbbbbbbbbb (was aaaaaaaaaaaa) of Genome app: rolling update',
    });
    expect(rolledOutNotes({ ...r!, name: 'w\u001b[31m', from: undefined }, 'a').genome).toBe(
      'rolled Deployment w\\u{1b}[31m to genome bbbbbbbbbbbb (was none)',
    );
  });
});
