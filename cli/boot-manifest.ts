/**
 * The boot check's second step (cmd/genome-boot-check.ts): after the mounted genome verified,
 * its build manifest is verified against each application image the pod webhook mounted into
 * the boot check (core/plan-manifest.ts), as Mathison verifies it at boot in production. The
 * first failure refuses, with the code, the container, its image, the path and both short
 * hashes; the image and container come from the pod spec and the path from the genome, so all
 * are escaped.
 */
import { writeFileSync } from 'node:fs';
import { refuse, type Refusal } from '../core/codes.ts';
import { displayText } from '../core/display.ts';
import type { Genome } from '../core/genome.ts';
import type { ManifestCheck } from '../core/plan-manifest.ts';
import { verifyBuildManifestAt } from './build-manifest-fs.ts';

/** The first hex characters of a hash shown in a refusal. */
const SHORT = 12;

/** What the boot check prints on success (per container) or its refusal line. */
export type ManifestOutcome =
  | { ok: true; checked: { container: string; checked: number; skipped: number }[] }
  | { ok: false; line: Record<string, unknown> };

/** The checks the webhook listed (GENOME_MANIFEST_CHECKS), or a refusal when they cannot be read. */
export function parseManifestChecks(text: string | undefined): ManifestCheck[] | Refusal {
  if (text === undefined || text === '') return [];
  const bad = () =>
    refuse(
      'GENOME_VERIFY_ERROR',
      'GENOME_MANIFEST_CHECKS is not the list of checks the pod webhook writes; create the pod again through the webhook',
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad();
  }
  if (!Array.isArray(value) || !value.every(isCheck)) return bad();
  return value;
}

function isCheck(value: unknown): value is ManifestCheck {
  const c = value as Partial<ManifestCheck> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.container === 'string' &&
    typeof c.image === 'string' &&
    typeof c.root === 'string' &&
    c.root.startsWith('/') &&
    typeof c.production === 'boolean'
  );
}

/** Verifies the genome's build manifest under each check's root, in order; the first failure wins. */
export function checkManifests(genome: Genome, checks: readonly ManifestCheck[]): ManifestOutcome {
  const files = genome.build_manifest?.files ?? [];
  const checked: { container: string; checked: number; skipped: number }[] = [];
  for (const check of checks) {
    const result = verifyBuildManifestAt(files, check.root, { production: check.production });
    const container = displayText(check.container);
    if (result.ok) {
      checked.push({ container, checked: result.checked, skipped: result.skipped });
      continue;
    }
    const image = displayText(check.image, 512);
    return {
      ok: false,
      line: {
        msg: 'build manifest refused',
        code: result.refusal.code,
        container,
        image,
        path: displayText(result.path, 512),
        ...(result.expected !== undefined && { expected: shortHash(result.expected) }),
        ...(result.actual !== undefined && { actual: shortHash(result.actual) }),
        production: check.production,
        reason: displayText(
          `container ${container} (image ${image}): ${result.refusal.message}; the application does not start`,
          1500,
        ),
      },
    };
  }
  return { ok: true, checked };
}

const shortHash = (hash: string) => displayText(hash.slice(0, SHORT));

/**
 * Writes the refusal line where the kubelet reads the termination message (the path the
 * webhook names), so `kubectl describe pod` and the operator see it. Best effort: the line is
 * on stderr too, and the exit code refuses either way.
 */
export function writeTerminationMessage(path: string | undefined, line: string): void {
  if (path === undefined || path === '') return;
  try {
    // The kubelet keeps at most 4096 bytes of it; the line is bounded well below with its fields.
    writeFileSync(path, line.slice(0, 4000));
  } catch {
    // Nothing else to do: stderr has it.
  }
}
