import { describe, expect, it } from 'vitest';
import { parseDpkgSearch, parseLdd } from './system-libs.ts';

describe('parseLdd', () => {
  it('takes the libraries and the loader, as images/node-runtime.sh does', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007f636b010000)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f636affa000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f636ac00000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f636b012000)',
      '',
    ].join('\n');
    expect(parseLdd(out)).toEqual([
      '/lib/x86_64-linux-gnu/libdl.so.2',
      '/lib/x86_64-linux-gnu/libstdc++.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });
});

describe('parseDpkgSearch', () => {
  it('names the package and its architecture', () => {
    expect(parseDpkgSearch('libc6:amd64: /lib/x86_64-linux-gnu/libdl.so.2\n')).toEqual({
      name: 'libc6',
      arch: 'amd64',
    });
    expect(parseDpkgSearch('libstdc++6:amd64: /usr/lib/x86_64-linux-gnu/libstdc++.so.6\n')).toEqual(
      {
        name: 'libstdc++6',
        arch: 'amd64',
      },
    );
  });

  it('says nothing for a diversion or no match', () => {
    expect(parseDpkgSearch('dpkg-query: no path found matching pattern /x\n')).toBeUndefined();
    expect(parseDpkgSearch('diversion by foo from: /x\n')).toBeUndefined();
  });
});
