import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createCertificateAuthority, issueCertificate } from '../tls/pki.ts';

/** Where the control plane's PKI files are, all PEM. */
export interface CredentialFiles {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

/** The first address of --service-cluster-ip-range: the ClusterIP of the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

/** Writes a CA, the API server's serving certificate, an admin client certificate and a service-account key pair into `dir`. */
export async function writeCredentials(dir: string): Promise<CredentialFiles> {
  const files: CredentialFiles = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'service-account.key'),
    serviceAccountPublicKey: join(dir, 'service-account.pub'),
  };
  const ca = await createCertificateAuthority('genome-operator-local-ca');
  const serving = await issueCertificate(ca, {
    commonName: 'kube-apiserver',
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    ipAddresses: ['127.0.0.1', KUBERNETES_SERVICE_IP],
    usage: 'server',
  });
  // system:masters is bound to cluster-admin by the API server's bootstrap RBAC policy.
  const admin = await issueCertificate(ca, {
    commonName: 'genome-admin',
    organizations: ['system:masters'],
    usage: 'client',
  });
  const serviceAccount = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const secret = { mode: 0o600 };
  writeFileSync(files.caCert, ca.cert);
  writeFileSync(files.caKey, ca.key, secret);
  writeFileSync(files.servingCert, serving.cert);
  writeFileSync(files.servingKey, serving.key, secret);
  writeFileSync(files.adminCert, admin.cert);
  writeFileSync(files.adminKey, admin.key, secret);
  writeFileSync(
    files.serviceAccountKey,
    serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    secret,
  );
  writeFileSync(
    files.serviceAccountPublicKey,
    serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  return files;
}

/** Writes a kubeconfig at `path` that reaches `serverUrl` as the admin, with the credentials embedded. */
export function writeKubeconfig(path: string, serverUrl: string, files: CredentialFiles): void {
  const base64 = (file: string) => readFileSync(file).toString('base64');
  const name = 'genome-local';
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name, cluster: { server: serverUrl, 'certificate-authority-data': base64(files.caCert) } },
    ],
    users: [
      {
        name: 'genome-admin',
        user: {
          'client-certificate-data': base64(files.adminCert),
          'client-key-data': base64(files.adminKey),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: 'genome-admin' } }],
    'current-context': name,
  };
  writeFileSync(path, stringify(kubeconfig), { mode: 0o600 });
}
