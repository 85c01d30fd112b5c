// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

/** A certificate and its private key, both PEM (the key is PKCS#8). */
export interface KeyPairPem {
  cert: string;
  key: string;
}

/** A certificate authority: a self-signed CA certificate and its signing key, both PEM. */
export type CertificateAuthority = KeyPairPem;

/** What an issued certificate is for: serving TLS, or authenticating a TLS client. */
export type CertificateUsage = 'server' | 'client';

/** The subject, names and lifetime of a certificate to issue. */
export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: CertificateUsage;
  notBefore?: Date;
  notAfter?: Date;
}

/** The lifetime of a certificate authority. */
export interface AuthorityOptions {
  notBefore?: Date;
  notAfter?: Date;
}

const crypto = webcrypto;
const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
// Backdated so that a peer whose clock runs a little behind ours still accepts the certificate.
const CLOCK_SKEW_MS = 5 * 60 * 1000;

/** Creates a self-signed ECDSA P-256 certificate authority (valid for a year by default). */
export async function createCertificateAuthority(
  commonName: string,
  options: AuthorityOptions = {},
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [commonName] }],
      keys,
      signingAlgorithm: SIGNING,
      ...validity(options, 365),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign |
            x509.KeyUsageFlags.cRLSign |
            x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** Issues an ECDSA P-256 leaf certificate signed by `ca` (valid for 90 days by default). */
export async function issueCertificate(
  ca: CertificateAuthority,
  options: IssueOptions,
): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importSigningKey(ca.key);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: subjectName(options),
      issuer: caCert.subject,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING,
      ...validity(options, 90),
      extensions: await leafExtensions(caCert, keys.publicKey, options),
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

function subjectName(options: IssueOptions): x509.JsonName {
  const name: x509.JsonName = [{ CN: [options.commonName] }];
  // One RDN per organization: Kubernetes reads each O as a group of the client.
  for (const org of options.organizations ?? []) name.push({ O: [org] });
  return name;
}

async function leafExtensions(
  caCert: x509.X509Certificate,
  publicKey: CryptoKey,
  options: IssueOptions,
): Promise<x509.Extension[]> {
  const eku =
    options.usage === 'server'
      ? x509.ExtendedKeyUsage.serverAuth
      : x509.ExtendedKeyUsage.clientAuth;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([eku]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
  ];
  const names: x509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  return extensions;
}

function validity(
  options: AuthorityOptions,
  defaultDays: number,
): { notBefore: Date; notAfter: Date } {
  const notBefore = options.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + defaultDays * DAY_MS);
  return { notBefore, notAfter };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return crypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
}
