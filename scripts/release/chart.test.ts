import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { pinChartVersion, pinImage } from './chart.ts';

const digest = `sha256:${'0f'.repeat(32)}`;

describe('pinImage', () => {
  const values = [
    '# top comment',
    'image:',
    '  # the repository',
    '  repository: genome.local/genome-operator',
    '  tag: v1',
    "  digest: ''",
    '  pullPolicy: IfNotPresent',
    'other: 1',
    '',
  ].join('\n');

  it('sets the tag and the digest and keeps everything else, comments too', () => {
    const out = pinImage(values, '0.1.0', digest);
    expect(parse(out)).toEqual({
      image: {
        repository: 'genome.local/genome-operator',
        tag: '0.1.0',
        digest,
        pullPolicy: 'IfNotPresent',
      },
      other: 1,
    });
    expect(out).toContain('# top comment');
    expect(out).toContain('  # the repository');
  });

  it('refuses a digest that is not sha256:<64 hex>, and values without image.digest', () => {
    expect(() => pinImage(values, '0.1.0', 'sha256:abc')).toThrow(/sha256:<64 hex>/);
    expect(() => pinImage('image:\n  tag: v1\n', '0.1.0', digest)).toThrow(/image\.digest/);
  });
});

describe('pinChartVersion', () => {
  it('sets version and appVersion', () => {
    const out = pinChartVersion(
      'apiVersion: v2\nname: x\nversion: 0.0.1\nappVersion: v1\n',
      '0.1.0',
    );
    expect(parse(out)).toEqual({
      apiVersion: 'v2',
      name: 'x',
      version: '0.1.0',
      appVersion: '0.1.0',
    });
  });
});
