import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256sums, SUMS_FILE } from './checksums.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function folder(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'release-sums-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('sha256sums', () => {
  it('lists every file, sorted, in the format sha256sum -c reads', () => {
    const root = folder({ 'b.tgz': 'chart', 'a.tar': 'image', 'sbom/a.json': '{}' });
    const sums = sha256sums(root);
    expect(sums.split('\n').map((l) => l.slice(66))).toEqual(['a.tar', 'b.tgz', 'sbom/a.json', '']);
    writeFileSync(join(root, SUMS_FILE), sums);
    const check = spawnSync('sha256sum', ['-c', '--strict', SUMS_FILE], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('leaves out the checksum file itself, and sha256sum -c catches a changed file', () => {
    const root = folder({ 'a.tar': 'image', [SUMS_FILE]: 'old' });
    const sums = sha256sums(root);
    expect(sums).not.toContain(SUMS_FILE);
    writeFileSync(join(root, SUMS_FILE), sums);
    writeFileSync(join(root, 'a.tar'), 'tampered');
    const check = spawnSync('sha256sum', ['-c', SUMS_FILE], { cwd: root, encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('a.tar: FAILED');
  });

  it('refuses a file name sha256sum would escape (a newline or a backslash)', () => {
    const root = folder({ 'a\\b.tar': 'x' });
    expect(() => sha256sums(root)).toThrow(/a\\\\b\.tar.*rename/);
  });
});
