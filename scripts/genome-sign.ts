/**
 * genome-sign <in.json> [out.json] [key-id]: signs a genome's canonical bytes with the
 * Ed25519 private key in GENOME_SIGNING_PRIVATE_KEY (base64 PKCS#8, as genome-keygen and
 * upstream's tools make it; PEM also accepted). Without out.json the input is overwritten,
 * as upstream does. Without key-id the signer is the authority entry whose public key
 * matches the private key. A second signer is added to `signatures`; nothing is dropped.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { canonicalBytes, genomeId } from '../core/canonical.ts';
import { refuse } from '../core/codes.ts';
import { parseGenome, type Genome } from '../core/genome.ts';
import { withSignature } from '../core/sign.ts';
import { declaredKeys } from '../core/trust.ts';
import { verify, MAX_GENOME_FILE_BYTES } from '../core/verify.ts';
import { CliRefusal, readTextFile, runCli, usage } from '../cli/io.ts';

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

runCli(() => {
  const [input, output, requested, ...extra] = process.argv.slice(2);
  if (input === undefined || extra.length > 0 || input.startsWith('-')) {
    usage('genome-sign.ts <in.json> [out.json] [key-id]   (key in GENOME_SIGNING_PRIVATE_KEY)');
  }
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
  console.log(`signed ${signed.name} ${signed.version} as ${keyId}`);
  console.log(`  genome id: ${genomeId(signed)}`);
  console.log(`  output:    ${target}`);
  return 0;
});
