/** The npm packages an esbuild bundle holds, from its metafile's inputs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** An npm package bundled into an image. */
export interface NpmComponent {
  name: string;
  version: string;
  /** The SPDX expression package.json gives, when it gives one. */
  license?: string;
}

const PACKAGE_DIR = /^(?:\.\.\/)*((?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/]+)\//;

/** The package folders (the deepest node_modules/<name> of each input path), sorted, once each. */
export function packageDirsOf(inputs: string[]): string[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const match = PACKAGE_DIR.exec(input);
    if (match?.[1] !== undefined) dirs.add(match[1]);
  }
  return [...dirs].sort();
}

interface PackageJson {
  name?: unknown;
  version?: unknown;
  license?: unknown;
  licenses?: unknown;
}

/** The license of a package.json: `license` (a string or the old `{type}`), or the old `licenses` list. */
function licenseOf(pkg: PackageJson): string | undefined {
  const typeOf = (l: unknown): string | undefined =>
    typeof l === 'string'
      ? l
      : typeof (l as { type?: unknown })?.type === 'string'
        ? (l as { type: string }).type
        : undefined;
  const single = typeOf(pkg.license);
  if (single !== undefined) return single;
  if (!Array.isArray(pkg.licenses)) return undefined;
  const all = pkg.licenses.map(typeOf).filter((l): l is string => l !== undefined);
  return all.length > 0 ? all.join(' OR ') : undefined;
}

/**
 * The npm packages of a bundle's inputs (paths relative to the repository), sorted by name and
 * version, once per name and version. Throws when a package.json has no name or version.
 */
export function npmComponentsOf(
  inputs: string[],
  readPackageJson: (dir: string) => unknown = (dir) =>
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')),
): NpmComponent[] {
  const found = new Map<string, NpmComponent>();
  for (const dir of packageDirsOf(inputs)) {
    const pkg = (readPackageJson(dir) ?? {}) as PackageJson;
    if (typeof pkg.name !== 'string' || typeof pkg.version !== 'string')
      throw new Error(`${dir}/package.json has no name or version; cannot list it in the SBOM`);
    const license = licenseOf(pkg);
    found.set(`${pkg.name}@${pkg.version}`, {
      name: pkg.name,
      version: pkg.version,
      ...(license === undefined ? {} : { license }),
    });
  }
  return [...found.values()].sort((a, b) =>
    a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1,
  );
}

/** The bundle entries (name=path.ts) an image's prepare.sh passes to images/bundle.sh. */
export function bundleEntriesOf(prepareSh: string): string[] {
  return [...prepareSh.matchAll(/(?<![\w/.-])([\w-]+=[\w./-]+\.ts)(?![\w.-])/g)].map((m) => m[1]!);
}
