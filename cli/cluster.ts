/**
 * The cluster side of the CLI: a kubeconfig as kubectl reads it (KUBECONFIG, --kubeconfig,
 * --context), the namespace to use, and what an API error says, escaped for a terminal.
 */
import { PooledKubeConfig } from '../kube/kubeconfig.ts';
import { statusCode } from '../kube/errors.ts';
import { displayMessage, displayText } from '../core/display.ts';
import type { Invocation } from './command.ts';

/** The kubeconfig flags every cluster command takes. */
export const KUBE_OPTIONS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const;

export const KUBE_FLAGS = [
  '      --kubeconfig <file>   the kubeconfig (else KUBECONFIG, else ~/.kube/config, else in-cluster)',
  '      --context <name>      the kubeconfig context (else its current context)',
];

/** The kubeconfig the flags ask for; a context that it does not have is an error (exit 2). */
export function loadKubeConfig(invocation: Invocation): PooledKubeConfig {
  const { kubeconfig, context } = invocation.values;
  const kc = new PooledKubeConfig();
  if (typeof kubeconfig === 'string') kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  if (typeof context === 'string') {
    if (kc.getContextObject(context) == null)
      throw new Error(`the kubeconfig has no context ${displayText(context)}`);
    kc.setCurrentContext(context);
  }
  if (kc.getCurrentCluster() === null)
    throw new Error('no cluster in the kubeconfig: set KUBECONFIG or pass --kubeconfig');
  return kc;
}

/** -n, else the context's namespace, else `default` (as kubectl does). */
export function namespaceOf(kc: PooledKubeConfig, flag: unknown): string {
  if (typeof flag === 'string' && flag !== '') return flag;
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
}

/** An API error as one escaped line: the server's message when it sent one. */
export function apiErrorText(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  let message = err instanceof Error ? err.message : String(err);
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      message = body;
    }
  }
  const code = statusCode(err);
  return displayMessage(code === undefined ? message : `HTTP ${code}: ${message}`);
}
