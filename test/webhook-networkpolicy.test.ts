// The webhook's NetworkPolicy as the chart renders it: its port open to every source by
// default (the chart cannot know where the API server calls from), and to the peers of
// networkPolicy.webhookFrom only, when set. docs/install.md, "Network policy".
import { describe, expect, it } from 'vitest';
import { pick, template } from './support/helm.ts';

const webhookPolicy = async (args: string[] = []) =>
  pick(await template('np', 'genome-system', args), 'NetworkPolicy', 'np-genome-operator-webhook')
    .spec as { ingress: { ports: unknown[]; from?: unknown[] }[] };

describe('the webhook NetworkPolicy', () => {
  it('by default opens the webhook port, and nothing else, to every source', async () => {
    const spec = await webhookPolicy();
    expect(spec.ingress).toEqual([{ ports: [{ port: 8443, protocol: 'TCP' }] }]);
  });

  it('opens it only to the peers of networkPolicy.webhookFrom when set', async () => {
    const spec = await webhookPolicy([
      ...['--set', 'networkPolicy.webhookFrom[0].ipBlock.cidr=10.0.0.0/28'],
      ...[
        '--set',
        'networkPolicy.webhookFrom[1].podSelector.matchLabels.k8s-app=konnectivity-agent',
      ],
      ...[
        '--set',
        'networkPolicy.webhookFrom[1].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=kube-system',
      ],
    ]);
    expect(spec.ingress).toEqual([
      {
        ports: [{ port: 8443, protocol: 'TCP' }],
        from: [
          { ipBlock: { cidr: '10.0.0.0/28' } },
          {
            podSelector: { matchLabels: { 'k8s-app': 'konnectivity-agent' } },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          },
        ],
      },
    ]);
  });

  it('refuses a peer that is not a NetworkPolicy peer', async () => {
    await expect(
      template('np', 'genome-system', ['--set', 'networkPolicy.webhookFrom[0].cidr=10.0.0.0/8']),
    ).rejects.toThrow(/additional properties 'cidr' not allowed/);
  });
});
