import { X509Certificate } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { isNotFound } from './errors.ts';

/**
 * When the serving certificate in a kubernetes.io/tls Secret expires (epoch ms), or undefined
 * when the Secret or its tls.crt is absent. Only the public certificate is parsed; the key in
 * the same Secret is never read into a variable.
 */
export async function readCertificateExpiry(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<number | undefined> {
  try {
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name });
    const pem = secret.data?.['tls.crt'];
    if (pem === undefined) return undefined;
    return Date.parse(new X509Certificate(Buffer.from(pem, 'base64')).validTo);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
