import { describe, expect, it } from 'vitest';
import { readSettings, type SettingsSources } from './settings.ts';

const sources = (overrides: Partial<SettingsSources> = {}): SettingsSources => ({
  argv: [],
  env: { GENOME_NAMESPACE: 'genome-system', KUBECONFIG: '/kube/config' },
  serviceAccountNamespace: undefined,
  readable: (path) => path === '/kube/config',
  hostname: 'host',
  ...overrides,
});

describe('readSettings', () => {
  it('takes the namespace and kubeconfig from the environment, with safe defaults', () => {
    const result = readSettings(sources());
    expect(result).toMatchObject({
      ok: true,
      settings: {
        namespace: 'genome-system',
        kubeconfig: '/kube/config',
        production: false,
        allowInjectionOptOut: false,
        leaderElect: true,
        leaseName: 'genome-operator',
        healthPort: 8080,
        workers: 4,
      },
    });
  });

  it('flags win over the environment', () => {
    const result = readSettings(
      sources({ argv: ['--namespace', 'ops', '--production=true', '--health-listen=127.0.0.1:0'] }),
    );
    expect(result).toMatchObject({
      ok: true,
      settings: { namespace: 'ops', production: true, healthHost: '127.0.0.1', healthPort: 0 },
    });
  });

  it('in a pod the namespace comes from the service account', () => {
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1' };
    const result = readSettings(sources({ env, serviceAccountNamespace: 'genome-system' }));
    expect(result).toMatchObject({
      ok: true,
      settings: { namespace: 'genome-system', kubeconfig: undefined },
    });
  });

  it('allows the injection opt-out only when told so', () => {
    const env = { ...sources().env, GENOME_ALLOW_INJECTION_OPT_OUT: 'true' };
    expect(readSettings(sources({ env }))).toMatchObject({
      settings: { allowInjectionOptOut: true },
    });
    expect(readSettings(sources({ argv: ['--allow-injection-opt-out=yes'] }))).toMatchObject({
      ok: false,
      message: /--allow-injection-opt-out must be true or false/,
    });
  });

  const refusals: { name: string; sources: SettingsSources; message: RegExp }[] = [
    {
      name: 'no namespace anywhere is refused',
      sources: sources({ env: { KUBECONFIG: '/kube/config' } }),
      message: /no namespace: set --namespace or GENOME_NAMESPACE/,
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
      sources: sources({ argv: ['--prodution=true'] }),
      message: /prodution.*the flags are --namespace/,
    },
    {
      name: 'a production value that is not a boolean is refused',
      sources: sources({
        env: { GENOME_NAMESPACE: 'ns', KUBECONFIG: '/kube/config', GENOME_PRODUCTION: 'yes' },
      }),
      message: /--production must be true or false, not "yes"/,
    },
    {
      name: 'a namespace that is not a DNS label is refused',
      sources: sources({ argv: ['--namespace', 'Genome_System'] }),
      message: /not a DNS-1123 label/,
    },
    {
      name: 'zero workers are refused',
      sources: sources({ argv: ['--workers', '0'] }),
      message: /--workers must be an integer from 1 to 64/,
    },
    {
      name: 'a listen address without a port is refused',
      sources: sources({ argv: ['--health-listen', 'localhost'] }),
      message: /--health-listen must be host:port/,
    },
  ];
  for (const c of refusals) {
    it(c.name, () => {
      const result = readSettings(c.sources);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.message).toMatch(c.message);
    });
  }

  it('takes the log level from --log-level or GENOME_LOG_LEVEL (default info), and refuses others', () => {
    expect(readSettings(sources())).toMatchObject({ settings: { logLevel: 'info' } });
    const env = { ...sources().env, GENOME_LOG_LEVEL: 'Warn' };
    expect(readSettings(sources({ env }))).toMatchObject({ settings: { logLevel: 'warn' } });
    expect(readSettings(sources({ env, argv: ['--log-level=debug'] }))).toMatchObject({
      settings: { logLevel: 'debug' },
    });
    expect(readSettings(sources({ argv: ['--log-level', 'trace'] }))).toMatchObject({
      ok: false,
      message: '--log-level must be one of debug, info, warn, error, not "trace"',
    });
  });
});
