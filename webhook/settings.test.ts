import { describe, expect, it } from 'vitest';
import type { SettingsSources } from '../core/settings.ts';
import { readWebhookSettings } from './settings.ts';

const sources = (overrides: Partial<SettingsSources> = {}): SettingsSources => ({
  argv: [],
  env: { GENOME_NAMESPACE: 'genome-system', KUBECONFIG: '/kube/config' },
  serviceAccountNamespace: undefined,
  readable: (path) => path === '/kube/config',
  hostname: 'host',
  ...overrides,
});

describe('readWebhookSettings', () => {
  it('takes the namespace and kubeconfig from the environment, with the defaults the chart expects', () => {
    expect(readWebhookSettings(sources())).toEqual({
      ok: true,
      settings: {
        namespace: 'genome-system',
        kubeconfig: '/kube/config',
        host: '0.0.0.0',
        port: 8443,
        tlsMode: 'self-managed',
        tlsDir: '/etc/genome-webhook/tls',
        tlsSecret: 'genome-webhook-tls',
        configurations: ['genome-operator'],
        mutatingConfigurations: ['genome-operator'],
        bootCheckImage: 'genome.local/genome-operator:v1',
        bootCheckPullPolicy: 'IfNotPresent',
        allowInjectionOptOut: false,
        dnsNames: [
          'genome-webhook.genome-system.svc',
          'genome-webhook.genome-system.svc.cluster.local',
        ],
        ipAddresses: [],
        logLevel: 'info',
      },
    });
  });

  it('reads every setting the chart and the test harness set', () => {
    const env = {
      GENOME_NAMESPACE: 'ops',
      KUBECONFIG: '/kube/config',
      WEBHOOK_LISTEN: '127.0.0.1:9443',
      WEBHOOK_SERVICE: 'gw',
      WEBHOOK_CONFIGURATIONS: 'one, two.example',
      WEBHOOK_MUTATING_CONFIGURATIONS: 'three',
      GENOME_BOOT_CHECK_IMAGE: 'registry.example/genome-operator:v2',
      GENOME_BOOT_CHECK_PULL_POLICY: 'Never',
      GENOME_ALLOW_INJECTION_OPT_OUT: 'true',
      WEBHOOK_TLS_MODE: 'files',
      WEBHOOK_TLS_DIR: '/tls',
      WEBHOOK_TLS_SECRET: 'gw-tls',
      WEBHOOK_DNS_NAMES: 'localhost',
      WEBHOOK_IP_ADDRESSES: '127.0.0.1,::1',
    };
    expect(readWebhookSettings(sources({ env }))).toEqual({
      ok: true,
      settings: {
        namespace: 'ops',
        kubeconfig: '/kube/config',
        host: '127.0.0.1',
        port: 9443,
        tlsMode: 'files',
        tlsDir: '/tls',
        tlsSecret: 'gw-tls',
        configurations: ['one', 'two.example'],
        mutatingConfigurations: ['three'],
        bootCheckImage: 'registry.example/genome-operator:v2',
        bootCheckPullPolicy: 'Never',
        allowInjectionOptOut: true,
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1', '::1'],
        logLevel: 'info',
      },
    });
  });

  it('flags win over the environment', () => {
    const argv = ['--namespace', 'ops', '--listen=127.0.0.1:0', '--tls-mode=files'];
    expect(readWebhookSettings(sources({ argv }))).toMatchObject({
      ok: true,
      settings: { namespace: 'ops', host: '127.0.0.1', port: 0, tlsMode: 'files' },
    });
  });

  it('in a pod the namespace comes from the service account, and the names from the Service', () => {
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', WEBHOOK_SERVICE: 'gw' };
    expect(
      readWebhookSettings(sources({ env, serviceAccountNamespace: 'genome-system' })),
    ).toMatchObject({
      ok: true,
      settings: {
        namespace: 'genome-system',
        kubeconfig: undefined,
        dnsNames: ['gw.genome-system.svc', 'gw.genome-system.svc.cluster.local'],
      },
    });
  });

  it('an empty value is unset, as it is for the operator', () => {
    const env = { ...sources().env, WEBHOOK_TLS_MODE: '', WEBHOOK_LISTEN: '' };
    expect(readWebhookSettings(sources({ env }))).toMatchObject({
      ok: true,
      settings: { tlsMode: 'self-managed', port: 8443 },
    });
  });

  const refusals: { name: string; sources: SettingsSources; message: RegExp }[] = [
    {
      name: 'no namespace anywhere is refused (there is no default namespace)',
      sources: sources({ env: { KUBECONFIG: '/kube/config' } }),
      message: /no namespace: set --namespace or GENOME_NAMESPACE/,
    },
    {
      name: 'a namespace that is not a DNS label is refused',
      sources: sources({ argv: ['--namespace', 'Genome_System'] }),
      message: /--namespace "Genome_System" is not a DNS-1123 label/,
    },
    {
      name: 'an unreadable kubeconfig is refused',
      sources: sources({ env: { GENOME_NAMESPACE: 'ns', KUBECONFIG: '/nope' } }),
      message: /cannot read the kubeconfig \/nope/,
    },
    {
      name: 'no kubeconfig outside a pod is refused',
      sources: sources({ env: { GENOME_NAMESPACE: 'ns' } }),
      message: /no cluster credentials/,
    },
    {
      name: 'an unknown flag is refused, naming the known ones',
      sources: sources({ argv: ['--tls=files'] }),
      message: /tls.*the flags are --namespace, --kubeconfig, --listen/,
    },
    {
      name: 'an argument that is not a flag is refused',
      sources: sources({ argv: ['webhook.mjs'] }),
      message: /the flags are/,
    },
    {
      name: 'a listen address without a port is refused',
      sources: sources({ argv: ['--listen', 'localhost'] }),
      message: /--listen must be host:port, not "localhost"/,
    },
    {
      name: 'a TLS mode other than self-managed or files is refused',
      sources: sources({ argv: ['--tls-mode', 'cert-manager'] }),
      message: /--tls-mode must be one of self-managed, files, not "cert-manager"/,
    },
    {
      name: 'a TLS Secret name that is not a DNS label is refused',
      sources: sources({ argv: ['--tls-secret', 'TLS'] }),
      message: /--tls-secret "TLS" is not a DNS-1123 label/,
    },
    {
      name: 'a webhook configuration name that is not an object name is refused',
      sources: sources({ argv: ['--configurations', 'ok,Not_OK'] }),
      message: /--configurations "Not_OK" is not a DNS-1123 subdomain/,
    },
    {
      name: 'an opt-out value that is not a boolean is refused',
      sources: sources({ argv: ['--allow-injection-opt-out=yes'] }),
      message: /--allow-injection-opt-out must be true or false, not "yes"/,
    },
    {
      name: 'a pull policy Kubernetes does not know is refused',
      sources: sources({ argv: ['--boot-check-pull-policy', 'Sometimes'] }),
      message: /--boot-check-pull-policy must be one of Always, IfNotPresent, Never/,
    },
    {
      name: 'a certificate IP address that is not one is refused',
      sources: sources({ argv: ['--ip-addresses', '127.0.0.1,localhost'] }),
      message: /--ip-addresses "localhost" is not an IP address/,
    },
    {
      name: 'a certificate DNS name that is not one is refused',
      sources: sources({ argv: ['--dns-names', 'web hook'] }),
      message: /--dns-names "web hook" is not a DNS-1123 subdomain/,
    },
  ];
  it.each(refusals)('$name', (c) => {
    const result = readWebhookSettings(c.sources);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(c.message);
  });

  it('takes the log level from --log-level or GENOME_LOG_LEVEL (default info), and refuses others', () => {
    expect(readWebhookSettings(sources())).toMatchObject({ settings: { logLevel: 'info' } });
    const env = { ...sources().env, GENOME_LOG_LEVEL: 'Warn' };
    expect(readWebhookSettings(sources({ env }))).toMatchObject({ settings: { logLevel: 'warn' } });
    expect(readWebhookSettings(sources({ env, argv: ['--log-level=debug'] }))).toMatchObject({
      settings: { logLevel: 'debug' },
    });
    expect(readWebhookSettings(sources({ argv: ['--log-level', 'trace'] }))).toMatchObject({
      ok: false,
      message: '--log-level must be one of debug, info, warn, error, not "trace"',
    });
  });
});
