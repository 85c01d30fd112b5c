/**
 * genome keygen [key-id]: makes an Ed25519 key pair. Prints the public key JSON
 * {key_id, alg, public_key} (a trust file entry) on stdout and the base64 PKCS#8 private key
 * on stderr, as upstream Mathison's tools do. The private key is printed once and stored nowhere.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { KEY_ID_PATTERN } from '../../core/genome-schema.ts';
import type { Command, Invocation } from '../command.ts';
import { usage } from '../io.ts';

function run({ positionals, usageLine }: Invocation): number {
  if (positionals.length > 1) usage(usageLine);
  const keyId =
    positionals[0] ??
    `genome-key-${new Date().toISOString().slice(0, 10)}-${randomBytes(3).toString('hex')}`;
  if (!new RegExp(KEY_ID_PATTERN).test(keyId))
    throw new Error(`key id must match ${KEY_ID_PATTERN}`);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const publicDer = publicKey.export({ format: 'der', type: 'spki' });
  const privateDer = privateKey.export({ format: 'der', type: 'pkcs8' });
  process.stdout.write(
    `${JSON.stringify({ key_id: keyId, alg: 'ed25519', public_key: publicDer.toString('base64') }, null, 2)}\n`,
  );
  process.stderr.write(`${privateDer.toString('base64')}\n`);
  return 0;
}

export const keygen: Command = {
  name: 'keygen',
  summary: 'make an Ed25519 key pair (public key JSON on stdout, private key on stderr)',
  synopsis: '[key-id]',
  description: [
    'Makes an Ed25519 key pair. Prints the public key as a trust file entry',
    '{key_id, alg, public_key} on stdout, and the base64 PKCS#8 private key on stderr, once:',
    'it is stored nowhere. Keep it apart:  genome keygen my-key >my-key.trust.json 2>my-key.private',
    'Without key-id, the id is genome-key-<date>-<random>.',
  ],
  flags: [],
  options: {},
  run,
};
