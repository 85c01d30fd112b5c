import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The repository stands alone: a clone with nothing beside it builds, tests and documents
// itself. These checks read the tracked files; they fail when a file reaches outside the clone.
const ROOT = join(import.meta.dirname, '..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file && existsSync(join(ROOT, file)));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const inside = (path: string) => !relative(ROOT, path).startsWith('..');

/** Markdown links and images with a relative target: [text](target) and ![alt](target). */
function relativeLinks(markdown: string): string[] {
  const targets = [...markdown.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#'));
}

describe('the repository stands alone', () => {
  const markdown = tracked.filter((file) => file.endsWith('.md'));

  it.each(markdown)('every relative link in %s resolves to a file in the repository', (file) => {
    const broken = relativeLinks(read(file))
      .map((target) => resolve(ROOT, dirname(file), decodeURIComponent(target.split('#')[0]!)))
      .filter((path) => !inside(path) || !existsSync(path))
      .map((path) => relative(ROOT, path));
    expect(broken).toEqual([]);
  });

  it('no source, script or test reads from ../shared or any other path beside the clone', () => {
    const code = tracked.filter(
      (file) =>
        file !== 'scripts/repository.test.ts' &&
        /\.(ts|js|sh|json)$|(^|\/)(Makefile|run)$/.test(file),
    );
    const outside = code.filter((file) =>
      /['"]\.\.['"]\s*,\s*['"]shared['"]|\.\.\/shared\b|['"]shared['"]\s*,\s*['"](vectors|interop)['"]/.test(
        read(file),
      ),
    );
    expect(outside).toEqual([]);
  });

  it('every test data file brought in from elsewhere has its source and licence noted', () => {
    const notes = read('test/vectors/README.md');
    const data = tracked.filter(
      (file) => file.startsWith('test/vectors/') && file.endsWith('.json'),
    );
    expect(data.length).toBeGreaterThan(0);
    const named = (file: string) =>
      notes.includes(relative('test/vectors', file)) ||
      notes.includes(`${relative('test/vectors', dirname(file))}/`);
    expect(data.filter((file) => !named(file))).toEqual([]);
    expect(notes).toMatch(/Apache-2\.0/);
    expect(notes).toMatch(/MIT/);
  });
});

/** The relative imports of one TypeScript file (static, `export ... from`, `import type`, `import()`). */
function relativeImports(file: string): string[] {
  const source = read(file);
  const specifiers = [
    ...source.matchAll(/(?:import|export)[^'";]*?from\s+['"](\.[^'"]+)['"]/g),
    ...source.matchAll(/import\(\s*['"](\.[^'"]+)['"]/g),
  ].map((m) => m[1]!);
  return specifiers.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

/** The import cycles among `files`: each as the path from a file back to itself. */
function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, relativeImports(f).filter((t) => t !== f)]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[][] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file]);
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file, []);
  return cycles;
}

describe('the import graph', () => {
  it('has no cycle (a cycle of types only is one too: it ties the files together all the same)', () => {
    const cycles = importCycles(tracked.filter((file) => file.endsWith('.ts')));
    expect(cycles.map((cycle) => cycle.join(' -> '))).toEqual([]);
  });
});
