import { checkInjection, type InjectionPod } from '../core/injection-check.ts';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { shrinkPod } from './cached-pod.ts';
import type { Genome } from '../core/genome.ts';
import type { Verdict } from '../core/verify.ts';
import { desiredGate, gateWrites, hasGate, mountedConfigMap, type GateInput } from './gate.ts';
import type { CachedPod } from './cached.ts';

const LABEL = 'genome.mathison.io/genome';
const ID = 'genome.mathison.io/id';
const GATE = 'genome.mathison.io/verified';
const GENOME_ID = 'c'.repeat(64);
const KIB = 1024;

const GENOME_MOUNT = { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true };
const GENOME_PATH = { name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' };

/** A labelled, injected pod as the API server sends it, with `annotations` of a tenant's. */
function pod(extra: { annotations?: Record<string, string>; labels?: Record<string, string> }) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'apps',
      uid: 'u1',
      resourceVersion: '42',
      labels: { run: 'web', [LABEL]: 'app', ...extra.labels },
      annotations: { [ID]: GENOME_ID, ...extra.annotations },
      managedFields: [{ manager: 'kubectl', fieldsV1: { f: 'x'.repeat(10 * KIB) } }],
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc', uid: 'rs', apiVersion: 'apps/v1' }],
    },
    spec: {
      volumes: [
        { name: 'mathison-genome', configMap: { name: `app-${GENOME_ID.slice(0, 12)}` } },
        { name: 'other', configMap: { name: 'x'.repeat(200) } },
        ...Array.from({ length: 100 }, (_, i) => ({ name: `v${i}`, emptyDir: {} })),
      ],
      readinessGates: [{ conditionType: GATE }, { conditionType: 'example.com/theirs' }],
      initContainers: [{ name: 'genome-verify', image: 'x' }],
      containers: [
        {
          name: 'app',
          image: 'x',
          env: [{ name: 'BIG', value: 'y'.repeat(KIB) }, GENOME_PATH],
          volumeMounts: [GENOME_MOUNT],
        },
      ],
    },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Ready', status: 'False', message: 'z'.repeat(KIB) },
        {
          type: GATE,
          status: 'True',
          reason: 'Verified',
          message: 'genome cccccccccccc verified by k',
          lastTransitionTime: '2026-12-01T00:00:00Z',
        },
      ],
      containerStatuses: [{ name: 'app', ready: false }],
    },
  };
}

const size = (o: unknown) => JSON.stringify(o).length;
const shrunk = (o: unknown) => shrinkPod(o as KubernetesObject) as CachedPod & KubernetesObject;

describe('shrinkPod (the operator pod cache transform)', () => {
  it('keeps a pod with 250 KiB of annotations in a small bounded shape', () => {
    const hostile = pod({ annotations: { big: 'a'.repeat(250 * KIB) } });
    expect(size(hostile)).toBeGreaterThan(250 * KIB);
    expect(size(shrunk(hostile))).toBeLessThan(1024);
  });

  it('keeps exactly what the gates and rollouts read', () => {
    expect(shrunk(pod({}))).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web-1',
        namespace: 'apps',
        uid: 'u1',
        resourceVersion: '42',
        labels: { run: 'web', [LABEL]: 'app' },
        annotations: { [ID]: GENOME_ID },
      },
      spec: {
        volumes: [{ name: 'mathison-genome', configMap: { name: 'app-cccccccccccc' } }],
        readinessGates: [{ conditionType: GATE }],
        injection: { complete: true },
      },
      status: {
        phase: 'Running',
        conditions: [
          {
            type: GATE,
            status: 'True',
            reason: 'Verified',
            message: 'genome cccccccccccc verified by k',
            lastTransitionTime: '2026-12-01T00:00:00Z',
          },
        ],
      },
    });
  });

  it('gives the gate the same answer as the whole pod', () => {
    const whole = pod({ annotations: { big: 'a'.repeat(250 * KIB) } }) as CachedPod;
    const verified: Verdict = {
      ok: true,
      genome: {} as Genome,
      genomeId: GENOME_ID,
      signers: ['k'],
      warnings: [],
    };
    const input: GateInput = {
      genomeKey: 'apps/app',
      verdict: verified,
      published: new Map([['app-cccccccccccc', verified]]),
      now: new Date('2026-12-02T00:00:00Z'),
    };
    const cached = shrunk(whole);
    // The whole pod as the gate sees it: its injection checked, as the cache checks it.
    const strict = { allowOptOut: false };
    whole.spec = { ...whole.spec, injection: checkInjection(whole as InjectionPod, strict) };
    expect(hasGate(cached)).toBe(true);
    expect(mountedConfigMap(cached)).toBe('app-cccccccccccc');
    expect(desiredGate(cached, input)).toEqual(desiredGate(whole, input));
    expect(desiredGate(cached, input).status).toBe('True');
    expect(gateWrites([cached], input)).toEqual(gateWrites([whole], input));
  });

  it('records a decoy container (no genome) as an incomplete injection', () => {
    const decoy = pod({});
    decoy.spec.containers.push({ name: 'decoy', image: 'x', env: [], volumeMounts: [] });
    expect(shrunk(decoy).spec?.injection).toEqual({
      complete: false,
      problem: expect.stringMatching(/container decoy does not mount the genome/),
    });
  });

  it('keeps a long id annotation or condition message as a short marker, never a slice', () => {
    const hostile = pod({ annotations: { [ID]: 'f'.repeat(250 * KIB) } });
    hostile.status.conditions[1]!.message = 'm'.repeat(200 * KIB);
    const cached = shrunk(hostile);
    expect(cached.metadata?.annotations?.[ID]).toBe(`(dropped: ${250 * KIB} characters)`);
    expect(cached.status?.conditions?.[0]?.message).toBe(`(dropped: ${200 * KIB} characters)`);
    expect(size(cached)).toBeLessThan(1024);
  });

  it('keeps at most 64 labels of 4 KiB in all; beyond that, only the genome label', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v']));
    expect(shrunk(pod({ labels: many })).metadata?.labels).toEqual({ [LABEL]: 'app' });
    const long = {
      a: 'v'.repeat(63),
      ...Object.fromEntries([...'bcdefghijklmnopqrstuvwxyz'].map((k) => [k.repeat(200), 'v'])),
    };
    expect(shrunk(pod({ labels: long })).metadata?.labels).toEqual({ [LABEL]: 'app' });
    const fine = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`l${i}`, 'v']));
    expect(shrunk(pod({ labels: fine })).metadata?.labels).toEqual({
      run: 'web',
      [LABEL]: 'app',
      ...fine,
    });
  });

  it.each([
    ['no metadata, spec or status', {}],
    [
      'fields of the wrong types',
      {
        metadata: { labels: 'x', annotations: [1] },
        spec: { volumes: 'x', readinessGates: {} },
        status: { conditions: 7 },
      },
    ],
    [
      'null everywhere',
      { metadata: null, spec: { volumes: [null] }, status: { conditions: [null] } },
    ],
  ])('never throws on %s', (_name, object) => {
    expect(() => shrunk(object)).not.toThrow();
    expect(hasGate(shrunk(object))).toBe(false);
  });
});
