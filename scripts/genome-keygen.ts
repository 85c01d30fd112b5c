/**
 * genome-keygen [key-id]: makes an Ed25519 key pair. Prints the public key JSON
 * {key_id, alg, public_key} (a trust file entry) on stdout and the base64 PKCS#8 private key
 * on stderr, as upstream Mathison's tools do. The private key is printed once and stored nowhere.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { KEY_ID_PATTERN } from '../core/genome-schema.ts';
import { runCli, usage } from '../cli/io.ts';

runCli(() => {
  const args = process.argv.slice(2);
  if (args.length > 1 || args[0]?.startsWith('-')) usage('genome-keygen.ts [key-id]');
  const keyId =
    args[0] ??
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
});
