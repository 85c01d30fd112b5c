import { describe, expect, it } from 'vitest';
import {
  choiceOf,
  listenAddress,
  listOf,
  settingsResult,
  settingValues,
  subdomainOf,
  type SettingsSources,
} from './settings.ts';

const sources = (argv: string[], env: Record<string, string>): SettingsSources => ({
  argv,
  env,
  serviceAccountNamespace: undefined,
  readable: () => true,
  hostname: 'host',
});
const ENV_OF = { color: 'COLOR', size: 'SIZE' } as const;

describe('settingValues', () => {
  it('a flag wins over its variable; an empty value is unset', () => {
    const value = settingValues(sources(['--color=red'], { COLOR: 'blue', SIZE: '' }), ENV_OF);
    expect([value('color'), value('size')]).toEqual(['red', undefined]);
  });

  it('refuses an unknown flag and an argument that is not a flag, naming the flags', () => {
    for (const argv of [['--colour=red'], ['red']]) {
      expect(settingsResult(() => settingValues(sources(argv, {}), ENV_OF))).toMatchObject({
        ok: false,
        message: /the flags are --color, --size$/,
      });
    }
  });
});

describe('the shared checks', () => {
  it('a DNS-1123 subdomain: dots allowed, at most 253 characters, lower case', () => {
    expect(subdomainOf('name', 'a.b-c.d')).toBe('a.b-c.d');
    expect(() => subdomainOf('name', `${'a'.repeat(250)}.bcd`)).toThrow(/not a DNS-1123 subdomain/);
    expect(() => subdomainOf('name', 'A')).toThrow(/--name "A" is not a DNS-1123 subdomain/);
  });

  it('a listen address: host:port, an empty host is every address', () => {
    expect(listenAddress('listen', ':8443')).toEqual(['0.0.0.0', 8443]);
    expect(listenAddress('listen', '[::1]:8443')).toEqual(['[::1]', 8443]);
    expect(() => listenAddress('listen', '127.0.0.1:70000')).toThrow(/--listen must be host:port/);
  });

  it('a choice, and a list', () => {
    expect(choiceOf('mode', 'b', ['a', 'b'])).toBe('b');
    expect(() => choiceOf('mode', 'c', ['a', 'b'])).toThrow(/--mode must be one of a, b, not "c"/);
    expect(listOf(' a, ,b ')).toEqual(['a', 'b']);
  });
});
