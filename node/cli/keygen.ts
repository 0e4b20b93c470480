import { chmodSync, existsSync } from 'node:fs';
import { writePrivateKeyPem, writePublicKeyPem } from '../../federation/crypto/pem.js';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { exitOk, printJson, required, UsageError, type Command } from './command.js';
import { writeOutput } from './crypto.js';
import { gossipKeyPathFor, tlsPathFor } from '../config.js';
import { generatePeerKey, peerKeyToBase64 } from '../gossip.js';
import { generateTlsIdentity, writeTlsIdentity } from '../peer/tls.js';

/** KEY.pem -> KEY.pub.pem (or KEY -> KEY.pub.pem). */
export function publicKeyPathFor(privateKeyPath: string): string {
  return privateKeyPath.replace(/\.pem$/, '') + '.pub.pem';
}

const keygen: Command = {
  path: ['keygen'],
  summary: "generate a node's keys: SM2 signing key (PKCS#8 PEM), TLS identity and gossip key; print the node id",
  usage: [
    '--out KEY.pem [--force] [--json]',
    '',
    '  --out FILE   private key, PKCS#8 PEM, mode 0600 (openssl genpkey -algorithm SM2 compatible);',
    '               the public key (SPKI PEM) goes to FILE with .pem replaced by .pub.pem, the TLS key and',
    '               self-signed certificate of its peer links to .tls.pem, the libp2p gossip key to .p2p',
    '  --force      overwrite existing files',
    '  --json       print {nodeId, publicKey (hex), privateKeyFile, publicKeyFile, tlsFile, gossipKeyFile}',
  ].join('\n'),
  options: { out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
  async run(args, io) {
    const privateKeyFile = required(args, 'out');
    const publicKeyFile = publicKeyPathFor(privateKeyFile);
    const tlsFile = tlsPathFor(privateKeyFile);
    const gossipKeyFile = gossipKeyPathFor(privateKeyFile);
    const force = args.values.force === true;
    // Check every file before writing any, so a refusal leaves nothing half-written.
    for (const file of [privateKeyFile, publicKeyFile, tlsFile, gossipKeyFile]) {
      if (!force && existsSync(file)) throw new UsageError(`${file} exists; pass --force to overwrite it`);
    }
    const pair = generateKeyPair();
    writeOutput(privateKeyFile, writePrivateKeyPem(pair), { mode: 0o600, flag: force ? 'w' : 'wx' });
    chmodSync(privateKeyFile, 0o600); // `mode` applies only when the file is created
    writeOutput(publicKeyFile, writePublicKeyPem(pair.publicKey), { flag: force ? 'w' : 'wx' });
    const nodeId = nodeIdOf(pair.publicKey);
    writeTlsIdentity(tlsFile, await generateTlsIdentity(nodeId.slice(0, 16)));
    writeOutput(gossipKeyFile, peerKeyToBase64(await generatePeerKey()) + '\n', { mode: 0o600, flag: force ? 'w' : 'wx' });
    const publicKey = Buffer.from(pair.publicKey).toString('hex');
    if (args.values.json) {
      printJson(io, { nodeId, publicKey, privateKeyFile, publicKeyFile, tlsFile, gossipKeyFile });
    } else {
      io.stdout(`node id ${nodeId}\npublic key ${publicKey}\nprivate key ${privateKeyFile} (mode 0600)\npublic key file ${publicKeyFile}\nTLS identity ${tlsFile} (mode 0600)\ngossip key ${gossipKeyFile} (mode 0600)\n`);
    }
    return exitOk;
  },
};

export const keygenCommands: Command[] = [keygen];
