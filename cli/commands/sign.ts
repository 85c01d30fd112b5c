/**
 * genome sign <in.json> [out.json] [key-id]: signs a genome's canonical bytes with the
 * Ed25519 private key in GENOME_SIGNING_PRIVATE_KEY (base64 PKCS#8, as keygen and upstream's
 * tools make it; PEM also accepted). Without out.json the input is overwritten, as upstream
 * does. Without key-id the signer is the authority entry whose public key matches the private
 * key. A second signer is added to `signatures`; nothing is dropped.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { canonicalBytes, genomeId } from '../../core/canonical.ts';
import { refuse } from '../../core/codes.ts';
import { displayText } from '../../core/display.ts';
import { parseGenome, type Genome } from '../../core/genome.ts';
import { withSignature } from '../../core/sign.ts';
import { declaredKeys } from '../../core/trust.ts';
import { verify, MAX_GENOME_FILE_BYTES } from '../../core/verify.ts';
import type { Command, Invocation } from '../command.ts';
import { CliRefusal, readTextFile, usage } from '../io.ts';

function loadPrivateKey(): KeyObject {
  const text = process.env.GENOME_SIGNING_PRIVATE_KEY?.trim();
  if (!text)
    throw new Error(
      'set GENOME_SIGNING_PRIVATE_KEY to the base64 PKCS#8 private key (genome-keygen prints it on stderr)',
    );
  let key: KeyObject;
  try {
    key = text.startsWith('-----BEGIN')
      ? createPrivateKey(text)
      : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error('GENOME_SIGNING_PRIVATE_KEY is not a PKCS#8 private key (base64 DER or PEM)');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `GENOME_SIGNING_PRIVATE_KEY is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`,
    );
  }
  return key;
}

function signerKeyId(genome: Genome, publicKey: string, requested: string | undefined): string {
  const signer = genome.authority.signers.find((s) =>
    requested === undefined ? s.public_key === publicKey : s.key_id === requested,
  );
  const entry = JSON.stringify({
    key_id: requested ?? '<key-id>',
    alg: 'ed25519',
    public_key: publicKey,
  });
  if (signer === undefined) {
    throw new Error(
      `authority.signers has no entry for this key; add ${entry} to authority.signers first`,
    );
  }
  if (signer.public_key !== publicKey) {
    throw new Error(
      `authority.signers declares ${signer.key_id} with another public key than this private key's (${publicKey})`,
    );
  }
  return signer.key_id;
}

function run({ positionals, usageLine }: Invocation): number {
  const [input, output, requested, ...extra] = positionals;
  if (input === undefined || input === '-' || extra.length > 0) usage(usageLine);
  const parsed = parseGenome(readTextFile(input, 'genome', MAX_GENOME_FILE_BYTES));
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  const privateKey = loadPrivateKey();
  const publicKey = createPublicKey(privateKey)
    .export({ format: 'der', type: 'spki' })
    .toString('base64');
  const keyId = signerKeyId(parsed.genome, publicKey, requested);
  const sigBase64 = sign(null, canonicalBytes(parsed.genome), privateKey).toString('base64');
  const signed = withSignature(parsed.genome, {
    alg: 'ed25519',
    signer_key_id: keyId,
    sig_base64: sigBase64,
  });
  // Check our own work against the genome's declared keys before writing anything.
  const check = verify(signed, declaredKeys(signed.authority.signers).keys);
  if (!check.ok && check.code !== 'GENOME_THRESHOLD_NOT_MET') {
    throw new CliRefusal(refuse(check.code, `the signed genome does not verify: ${check.message}`));
  }
  const target = output ?? input;
  writeFileSync(target, `${JSON.stringify(signed, null, 2)}\n`);
  console.log(
    `signed ${displayText(signed.name)} ${displayText(signed.version)} as ${displayText(keyId)}`,
  );
  console.log(`  genome id: ${genomeId(signed)}`);
  console.log(`  output:    ${displayText(target)}`);
  return 0;
}

export const signCommand: Command = {
  name: 'sign',
  summary: 'sign a genome with the private key in GENOME_SIGNING_PRIVATE_KEY',
  synopsis: '<in.json> [out.json] [key-id]   (key in GENOME_SIGNING_PRIVATE_KEY)',
  description: [
    "Signs the genome's canonical bytes with the Ed25519 private key in the environment variable",
    'GENOME_SIGNING_PRIVATE_KEY (base64 PKCS#8 as keygen prints it, or PEM). Without out.json the',
    'input is overwritten. Without key-id the signer is the authority.signers entry whose public',
    'key matches. A second signer is added to `signatures`; nothing is dropped. The signed genome',
    'is checked against its declared signers before it is written; the key is never printed.',
  ],
  flags: [],
  options: {},
  run,
};
