/** The system libraries copied into an image with the Node runtime, and the Debian packages they come from. */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';

/** A file copied in from the build host, with the Debian package that owns it when dpkg knows. */
export interface SystemComponent {
  path: string;
  debPackage?: string;
  debVersion?: string;
  arch?: string;
}

/** The libraries (and the loader) ldd resolves, as images/node-runtime.sh copies them. */
export function parseLdd(output: string): string[] {
  const libs: string[] = [];
  for (const line of output.split('\n')) {
    const linked = /=> (\/\S+)/.exec(line);
    if (linked?.[1] !== undefined) libs.push(linked[1]);
    else if (/^\t\/\S*ld-linux/.test(line)) libs.push(line.trim().split(/\s+/)[0]!);
  }
  return libs;
}

/** The package (and architecture) of `dpkg -S <path>`'s answer, or undefined. */
export function parseDpkgSearch(output: string): { name: string; arch?: string } | undefined {
  const match = /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?: \//m.exec(output);
  if (match?.[1] === undefined) return undefined;
  return match[2] === undefined ? { name: match[1] } : { name: match[1], arch: match[2] };
}

function dpkgOwner(path: string): { name: string; arch?: string } | undefined {
  // usrmerge: dpkg may know a library under /usr/lib rather than /lib, or by its real name.
  const candidates = new Set([
    path,
    realpathSync(path),
    `/usr${path}`,
    `/usr${realpathSync(path)}`,
  ]);
  for (const candidate of candidates) {
    const out = spawnSync('dpkg', ['-S', candidate], { encoding: 'utf8' });
    const owner = out.status === 0 ? parseDpkgSearch(out.stdout) : undefined;
    if (owner) return owner;
  }
  return undefined;
}

/** The libraries `binary` links, each with its Debian package and version where dpkg has them. */
export function systemComponentsOf(binary: string): SystemComponent[] {
  const ldd = spawnSync('ldd', [binary], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new Error(`ldd ${binary} failed: ${ldd.stderr.trim()}`);
  return parseLdd(ldd.stdout).map((path) => {
    const owner = dpkgOwner(path);
    if (owner === undefined) return { path };
    const query = spawnSync(
      'dpkg-query',
      ['-W', '-f', '${Version}', `${owner.name}:${owner.arch ?? ''}`.replace(/:$/, '')],
      {
        encoding: 'utf8',
      },
    );
    const version = query.status === 0 ? query.stdout.trim() : '';
    return {
      path,
      debPackage: owner.name,
      ...(version ? { debVersion: version } : {}),
      ...(owner.arch ? { arch: owner.arch } : {}),
    };
  });
}
