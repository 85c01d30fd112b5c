import { describe, expect, it } from 'vitest';
import {
  checkInjection,
  incompleteInjection,
  type ContainerView,
  type InjectionView,
} from './injection-check.ts';
import { planInjection } from './plan-injection.ts';
import {
  declaring,
  genome,
  keyPair,
  publishedGenome,
  publishedSource,
} from '../test/builders/index.ts';

const mount = { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true };
const env = { name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' };
const app = (name: string, extra: Partial<ContainerView> = {}): ContainerView => ({
  name,
  volumeMounts: [mount],
  env: [env],
  ...extra,
});
const check: ContainerView = { name: 'genome-verify', volumeMounts: [mount], env: [env] };
const spec = (over: Partial<InjectionView> = {}): InjectionView => ({
  initContainers: [check],
  containers: [app('mathison')],
  ...over,
});

describe('incompleteInjection', () => {
  it('is undefined for a pod as the webhook injects it', () => {
    expect(incompleteInjection(spec())).toBeUndefined();
    expect(
      incompleteInjection(
        spec({ containers: [app('a'), app('b', { env: [{ name: 'X' }, env] })] }),
      ),
    ).toBeUndefined();
  });

  it.each<[string, InjectionView | undefined, RegExp]>([
    ['no spec', undefined, /boot check/],
    ['the boot check left out', spec({ initContainers: [] }), /boot check/],
    [
      'the boot check not first',
      spec({ initContainers: [{ name: 'setup' }, check] }),
      /first init container/,
    ],
    [
      'a container without the mount',
      spec({ containers: [app('mathison'), { name: 'decoy' }] }),
      /decoy.*does not mount/,
    ],
    [
      'a container without the variable',
      spec({ containers: [app('mathison', { env: [] })] }),
      /MATHISON_GENOME_PATH/,
    ],
    [
      'a variable pointing elsewhere',
      spec({ containers: [app('m', { env: [{ ...env, value: '/mine/genome.json' }] })] }),
      /MATHISON_GENOME_PATH/,
    ],
    [
      'a variable set twice',
      spec({ containers: [app('m', { env: [env, { ...env, value: '/x' }] })] }),
      /MATHISON_GENOME_PATH/,
    ],
    [
      'a variable from a reference',
      spec({ containers: [app('m', { env: [{ ...env, valueFrom: {} }] })] }),
      /MATHISON_GENOME_PATH/,
    ],
    [
      'a writable mount',
      spec({ containers: [app('m', { volumeMounts: [{ ...mount, readOnly: false }] })] }),
      /writable/,
    ],
    [
      'a mount over genome.json',
      spec({
        containers: [
          app('m', {
            volumeMounts: [mount, { name: 'mine', mountPath: '/etc/mathison/genome/genome.json' }],
          }),
        ],
      }),
      /does not mount/,
    ],
    [
      'the genome volume elsewhere',
      spec({ containers: [app('m', { volumeMounts: [{ ...mount, mountPath: '/other' }] })] }),
      /does not mount/,
    ],
    [
      'a relative mount over genome.json',
      spec({
        containers: [
          app('m', {
            volumeMounts: [mount, { name: 'mine', mountPath: 'etc/mathison/genome/genome.json' }],
          }),
        ],
      }),
      /does not mount/,
    ],
    [
      'a relative mount at the genome directory',
      spec({
        containers: [
          app('m', { volumeMounts: [{ name: 'mine', mountPath: 'etc//mathison/genome/' }, mount] }),
        ],
      }),
      /does not mount/,
    ],
    [
      'a mount at an ancestor of the genome directory',
      spec({
        containers: [
          app('m', { volumeMounts: [{ name: 'mine', mountPath: '/etc/mathison' }, mount] }),
        ],
      }),
      /mounts .* over the genome/,
    ],
    [
      'a relative mount at an ancestor',
      spec({
        containers: [app('m', { volumeMounts: [mount, { name: 'mine', mountPath: 'etc' }] })],
      }),
      /mounts .* over the genome/,
    ],
    [
      'an ephemeral container without the genome',
      { ...spec(), ephemeralContainers: [{ name: 'debug' }] },
      /debug.*does not mount/,
    ],
    [
      'a sidecar init container without the genome',
      spec({ initContainers: [check, { name: 'side', restartPolicy: 'Always' }] }),
      /side.*does not mount/,
    ],
  ])('refuses %s', (_, view, message) => {
    expect(incompleteInjection(view)).toMatch(message);
  });

  it('agrees with planInjection: every pod the webhook injects is complete', () => {
    const signer = keyPair('k-1');
    const published = publishedGenome({
      name: 'g',
      namespace: 'apps',
      genome: genome(declaring(signer)),
    });
    const pod = {
      metadata: { labels: { 'genome.mathison.io/genome': 'g' } },
      spec: {
        initContainers: [{ name: 'setup', image: 'x' }],
        containers: [
          {
            name: 'a',
            image: 'x',
            volumeMounts: [{ name: 'mine', mountPath: '/etc/mathison/genome' }],
          },
          { name: 'b', image: 'x', env: [{ name: 'MATHISON_GENOME_PATH', value: '/x' }] },
        ],
      },
    };
    const settings = { image: 'genome.local/genome-operator:v1', imagePullPolicy: 'Never' };
    const plan = planInjection(
      pod,
      'apps',
      publishedSource(published.genome, [published.configMap]),
      settings,
    );
    if (!plan.ok) throw new Error(plan.refusal.message);
    const out = structuredClone(pod) as Record<string, any>;
    for (const op of plan.patch) {
      const [, part, key] = op.path.split('/') as [string, string, string];
      out[part] = { ...out[part], [key]: op.value };
    }
    expect(incompleteInjection(out.spec)).toBeUndefined();
    expect(incompleteInjection(pod.spec)).toBeDefined();
  });

  describe('where the cluster allows the opt-out annotations (a weaker guarantee)', () => {
    const annotated = (annotations: Record<string, string>, view: InjectionView) => ({
      metadata: { annotations },
      spec: view,
    });
    const allowed = { allowOptOut: true };

    it('lets the boot check out only for a pod that says boot-check: "false"', () => {
      const noCheck = spec({ initContainers: [] });
      expect(checkInjection(annotated({}, noCheck), allowed).complete).toBe(false);
      const optedOut = annotated({ 'genome.mathison.io/boot-check': 'false' }, noCheck);
      expect(checkInjection(optedOut, allowed)).toEqual({ complete: true });
      expect(checkInjection(optedOut, { allowOptOut: false }).complete).toBe(false);
    });

    it('lets only the containers the pod does not list go without the genome', () => {
      const view = spec({ containers: [app('mathison'), { name: 'proxy' }] });
      const listed = annotated({ 'genome.mathison.io/containers': 'mathison' }, view);
      expect(checkInjection(listed, allowed)).toEqual({ complete: true });
      expect(checkInjection(listed, { allowOptOut: false }).complete).toBe(false);
      const wrong = annotated({ 'genome.mathison.io/containers': 'proxy' }, view);
      expect(checkInjection(wrong, allowed).complete).toBe(false);
      const none = annotated({ 'genome.mathison.io/containers': 'ghost' }, view);
      expect(checkInjection(none, allowed)).toMatchObject({
        complete: false,
        problem: /no container/,
      });
    });
  });
});
