/** `genome verify`'s command line, read from util.parseArgs' values (cli/commands/verify.ts). */
import { statSync } from 'node:fs';
import { displayText } from '../core/display.ts';
import type { Invocation } from './command.ts';
import { STDIN_PATH, usage } from './io.ts';

/** What the command line asks for. */
export interface VerifyArgs {
  genomePath: string;
  trustPaths: string[];
  secretPaths: string[];
  policyPaths: string[];
  namespaceLabels: Record<string, string>;
  now?: number;
  /** --manifest-root: check the genome's build_manifest under this directory after the verdict. */
  manifestRoot?: string;
  /** --production: the manifest's production rules (src→dist, placeholders refused). */
  production: boolean;
}

const list = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

export function parseVerifyArgs({ values, positionals, usageLine }: Invocation): VerifyArgs {
  const [genomePath, ...rest] = positionals;
  if (genomePath === undefined || rest.length > 0) usage(usageLine);
  const [trustPaths, secretPaths, policyPaths] = [
    list(values.trust),
    list(values['trust-secret']),
    list(values.policy),
  ];
  if ([...trustPaths, ...secretPaths, ...policyPaths].some((p) => isStdin(p)))
    usage(`${usageLine}  (standard input, -, is for the genome only)`);
  const labels = once(list(values['namespace-labels']), '--namespace-labels', usageLine);
  const now = once(list(values.now), '--now', usageLine);
  if (labels !== undefined && policyPaths.length === 0)
    usage(`${usageLine}  (--namespace-labels is for --policy)`);
  return {
    ...manifestArgs(values, usageLine),
    genomePath,
    trustPaths,
    secretPaths,
    policyPaths,
    namespaceLabels: labels === undefined ? {} : parseLabels(labels, usageLine),
    ...(now !== undefined && { now: parseNow(now, usageLine) }),
  };
}

/** --manifest-root (once, a directory) and --production (only with it). */
function manifestArgs(
  values: Invocation['values'],
  usageLine: string,
): Pick<VerifyArgs, 'manifestRoot' | 'production'> {
  const root = once(list(values['manifest-root']), '--manifest-root', usageLine);
  const production = values.production === true;
  if (root === undefined) {
    if (production) usage(`${usageLine}  (--production is for --manifest-root)`);
    return { production };
  }
  if (statSync(root, { throwIfNoEntry: false })?.isDirectory() !== true)
    usage(`${usageLine}  (--manifest-root ${displayText(root, 256)} is not a directory)`);
  return { manifestRoot: root, production };
}

const isStdin = (path: string) => path === STDIN_PATH || path === '/dev/stdin';

/** The value of an option given at most once. */
function once(values: readonly string[], name: string, usageLine: string): string | undefined {
  if (values.length > 1) usage(`${usageLine}  (${name} is given once)`);
  return values[0];
}

/** `k=v,k2=v2` as labels; an empty text is no label. */
function parseLabels(text: string, usageLine: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text === '' ? [] : text.split(',')) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at);
    const value = pair.slice(at + 1);
    if (at < 1 || key.length > 317 || value.length > 63 || Object.hasOwn(labels, key))
      usage(
        `${usageLine}  (--namespace-labels takes distinct key=value pairs separated by commas, not ${displayText(pair, 64)})`,
      );
    labels[key] = value;
  }
  return labels;
}

/** RFC 3339 date-time with an offset, as the trust Secrets' windows are written. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function parseNow(text: string, usageLine: string): number {
  const ms = RFC3339.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms))
    usage(
      `${usageLine}  (--now takes an RFC 3339 time such as 2027-01-01T00:00:00Z, not ${displayText(text, 64)})`,
    );
  return ms;
}
