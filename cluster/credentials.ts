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
  /** The API server's client certificate towards kubelets (logs, exec). */
  kubeletClientCert: string;
  kubeletClientKey: string;
}

/** The first address of --service-cluster-ip-range: the ClusterIP of the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

/**
 * Writes a CA, the API server's serving certificate (also valid for `extraIps`), an admin client
 * certificate, the API server's kubelet client certificate and a service-account key pair into `dir`.
 */
export async function writeCredentials(
  dir: string,
  extraIps: string[] = [],
): Promise<CredentialFiles> {
  const files: CredentialFiles = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'service-account.key'),
    serviceAccountPublicKey: join(dir, 'service-account.pub'),
    kubeletClientCert: join(dir, 'apiserver-kubelet-client.crt'),
    kubeletClientKey: join(dir, 'apiserver-kubelet-client.key'),
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
    ipAddresses: ['127.0.0.1', KUBERNETES_SERVICE_IP, ...extraIps],
    usage: 'server',
  });
  // system:masters is bound to cluster-admin by the API server's bootstrap RBAC policy.
  const admin = await issueCertificate(ca, {
    commonName: 'genome-admin',
    organizations: ['system:masters'],
    usage: 'client',
  });
  // A kubelet authorizes the API server's requests (logs, exec) by this identity through
  // SubjectAccessReview; system:masters may do everything, as kubeadm's client once was.
  const kubeletClient = await issueCertificate(ca, {
    commonName: 'kube-apiserver-kubelet-client',
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
  writeFileSync(files.kubeletClientCert, kubeletClient.cert);
  writeFileSync(files.kubeletClientKey, kubeletClient.key, secret);
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

/** A client identity for a kubeconfig: a user name and its certificate and key (PEM). */
export interface KubeconfigUser {
  name: string;
  cert: string;
  key: string;
}

/**
 * Writes a kubeconfig at `path` that reaches `serverUrl` as `user` (default: the admin), with the
 * credentials embedded.
 */
export function writeKubeconfig(
  path: string,
  serverUrl: string,
  files: CredentialFiles,
  user?: KubeconfigUser,
): void {
  const base64 = (file: string) => readFileSync(file).toString('base64');
  const who = user ?? {
    name: 'genome-admin',
    cert: readFileSync(files.adminCert, 'utf8'),
    key: readFileSync(files.adminKey, 'utf8'),
  };
  const name = 'genome-local';
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name, cluster: { server: serverUrl, 'certificate-authority-data': base64(files.caCert) } },
    ],
    users: [
      {
        name: who.name,
        user: {
          'client-certificate-data': Buffer.from(who.cert).toString('base64'),
          'client-key-data': Buffer.from(who.key).toString('base64'),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: who.name } }],
    'current-context': name,
  };
  writeFileSync(path, stringify(kubeconfig), { mode: 0o600 });
}
