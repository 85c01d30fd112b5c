/** SHA256SUMS of a release folder, in the format `sha256sum -c` reads. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The checksum file's name in the release folder. */
export const SUMS_FILE = 'SHA256SUMS';

/**
 * One `<sha256>  <path>` line per file under `dir` (recursively, sorted by path, `/`-separated),
 * the checksum file itself left out. Throws for a name that sha256sum would escape.
 */
export function sha256sums(dir: string): string {
  const files = readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((path) => path !== SUMS_FILE)
    .sort();
  return files
    .map((path) => {
      if (/[\n\\]/.test(path))
        throw new Error(
          `${JSON.stringify(path)}: a newline or backslash in a release file name; rename the file`,
        );
      const hash = createHash('sha256')
        .update(readFileSync(join(dir, path)))
        .digest('hex');
      return `${hash}  ${path}\n`;
    })
    .join('');
}
