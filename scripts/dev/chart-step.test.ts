import { describe, expect, it } from 'vitest';
import { chartNames, helmInstallArgs, valuesFilesOf, type ChartInstall } from './chart-step.ts';

const base: ChartInstall = {
  release: 'genome-operator',
  namespace: 'genome-system',
  chart: '/repo/charts/genome-operator',
  image: { name: 'genome.local/genome-operator:v1', loaded: 'kind' },
  valuesFiles: [],
  selfCheckNamespace: 'default',
};

const sets = (args: string[]) => args.flatMap((a, i) => (args[i - 1] === '--set' ? [a] : []));

describe('the chart install of make dev', () => {
  it('names the locally built image with pullPolicy Never where make dev put it on the nodes', () => {
    for (const loaded of ['kind', 'node'] as const)
      expect(sets(helmInstallArgs({ ...base, image: { ...base.image, loaded } }))).toEqual([
        'selfCheck.namespace=default',
        'image.repository=genome.local/genome-operator',
        'image.tag=v1',
        'image.pullPolicy=Never',
        'webhook.bootCheckPullPolicy=Never',
      ]);
  });

  it("leaves the image values to the chart's defaults and the user's values files otherwise", () => {
    const args = helmInstallArgs({
      ...base,
      image: { ...base.image, loaded: 'user' },
      valuesFiles: ['a.yaml', 'b.yaml'],
    });
    expect(sets(args)).toEqual(['selfCheck.namespace=default']);
    expect(args.slice(0, 7)).toEqual([
      ...['upgrade', '--install', 'genome-operator', '/repo/charts/genome-operator'],
      ...['--namespace', 'genome-system', '--create-namespace'],
    ]);
    expect(args.join(' ')).toContain(
      '--values /repo/charts/genome-operator/values-dev.yaml --values a.yaml --values b.yaml --wait --timeout 5m',
    );
  });

  it("trusts the TEST key through the chart's values-dev.yaml, not the chart's defaults", () => {
    const args = helmInstallArgs(base);
    expect(args[args.indexOf('--values') + 1]).toBe('/repo/charts/genome-operator/values-dev.yaml');
  });

  it('splits HELM_VALUES on spaces and commas', () => {
    expect(valuesFilesOf(undefined)).toEqual([]);
    expect(valuesFilesOf(' a.yaml,b.yaml  c.yaml ')).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
  });

  it("names the trust Secret as the chart's go.fullname does", () => {
    expect(chartNames('genome-operator').trustSecret).toBe('genome-operator-test-key');
    expect(chartNames('dev-1a2b').trustSecret).toBe('dev-1a2b-genome-operator-test-key');
  });
});
