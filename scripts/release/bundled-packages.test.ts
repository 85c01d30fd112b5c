import { describe, expect, it } from 'vitest';
import { bundleEntriesOf, npmComponentsOf, packageDirsOf } from './bundled-packages.ts';

describe('packageDirsOf', () => {
  it('finds the package folder of each bundled file (scoped, nested), once, and leaves our own sources out', () => {
    expect(
      packageDirsOf([
        'core/api.ts',
        'node_modules/yaml/dist/index.js',
        'node_modules/yaml/dist/compose.js',
        'node_modules/@kubernetes/client-node/dist/index.js',
        'node_modules/@kubernetes/client-node/node_modules/ws/index.js',
        'node_modules/@kubernetes/client-node/node_modules/@scope/pkg/a.js',
        '../node_modules/other/x.js',
      ]),
    ).toEqual([
      'node_modules/@kubernetes/client-node',
      'node_modules/@kubernetes/client-node/node_modules/@scope/pkg',
      'node_modules/@kubernetes/client-node/node_modules/ws',
      'node_modules/other',
      'node_modules/yaml',
    ]);
  });
});

describe('npmComponentsOf', () => {
  const manifests: Record<string, unknown> = {
    'node_modules/yaml': { name: 'yaml', version: '2.9.1', license: 'ISC' },
    'node_modules/old': { name: 'old', version: '0.1.0', license: { type: 'MIT' } },
    'node_modules/many': {
      name: 'many',
      version: '1.0.0',
      licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }],
    },
    'node_modules/none': { name: 'none', version: '3.0.0' },
  };
  const read = (dir: string) => manifests[dir];

  it('reads name, version and license from each package.json, the old license forms too', () => {
    expect(
      npmComponentsOf(
        Object.keys(manifests).map((d) => `${d}/index.js`),
        read,
      ),
    ).toEqual([
      { name: 'many', version: '1.0.0', license: 'MIT OR Apache-2.0' },
      { name: 'none', version: '3.0.0' },
      { name: 'old', version: '0.1.0', license: 'MIT' },
      { name: 'yaml', version: '2.9.1', license: 'ISC' },
    ]);
  });

  it('lists a package bundled from two places once per version', () => {
    const twice = (dir: string) => ({
      name: 'ws',
      version: dir.includes('/a/') ? '8.0.0' : '8.1.0',
    });
    expect(
      npmComponentsOf(
        [
          'node_modules/ws/i.js',
          'node_modules/a/node_modules/ws/i.js',
          'node_modules/b/node_modules/ws/i.js',
        ],
        twice,
      ).map((c) => `${c.name}@${c.version}`),
    ).toEqual(['ws@8.0.0', 'ws@8.1.0']);
  });

  it('refuses a bundled package without a name or version (fails closed, says which)', () => {
    expect(() => npmComponentsOf(['node_modules/bad/x.js'], () => ({ name: 'bad' }))).toThrow(
      /node_modules\/bad\/package\.json has no name or version/,
    );
  });
});

describe('bundleEntriesOf', () => {
  it('reads the name=entry.ts pairs a prepare.sh passes to bundle.sh, in an array or inline', () => {
    const product = [
      'bash images/node-runtime.sh "$out/runtime"',
      'entries=(',
      '  webhook=cmd/webhook.ts',
      '  genome-boot-check=cmd/genome-boot-check.ts',
      ')',
      'bash images/bundle.sh "$out/app" "${entries[@]}"',
    ].join('\n');
    expect(bundleEntriesOf(product)).toEqual([
      'webhook=cmd/webhook.ts',
      'genome-boot-check=cmd/genome-boot-check.ts',
    ]);
    expect(
      bundleEntriesOf(
        'bash images/bundle.sh "$1/app" mathison=examples/mathison-reference/main.ts',
      ),
    ).toEqual(['mathison=examples/mathison-reference/main.ts']);
    expect(bundleEntriesOf('out="$1/build/image"\nset -euo pipefail')).toEqual([]);
  });
});
