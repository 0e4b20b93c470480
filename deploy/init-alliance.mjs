#!/usr/bin/env node
// Makes the keys of the example cities (deploy/config/alliance.yaml) and the
// alliance file with their public keys and gossip peer ids filled in, so that
// containers can mount everything read-only from the first start.
//
//   node deploy/init-alliance.mjs --out DIR [--host PATTERN] [--template FILE]
//   node deploy/init-alliance.mjs --out /etc/tongxing --city Kunming
//
//   --out DIR        writes DIR/keys/<city>.pem (SM2, 0600), <city>.pub.pem,
//                    <city>.p2p (libp2p Ed25519, 0600) and DIR/alliance.yaml;
//                    keys already there are kept (the node id must not change)
//   --host PATTERN   host name of each member, {city} = lower-case city name
//                    (compose: '{city}'; default: the template's tongxing.{city}.example)
//   --template FILE  alliance file with PUBLIC_KEY_HEX_<CITY> / PEER_ID_<CITY>
//                    placeholders (default: deploy/config/alliance.yaml)
//   --city NAME      only this member's keys (a center makes its own and sends
//                    the printed publicKey and peerId to the others); no alliance.yaml
//
// Needs dist/ (run `make` first). Prints one JSON line per city.
import '../dist/node/polyfill.js';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

const { readPrivateKeyPem, writePrivateKeyPem, writePublicKeyPem } = await import('../dist/federation/crypto/pem.js');
const { generateKeyPair, nodeIdOf } = await import('../dist/federation/crypto/sm2.js');
const { generatePeerKey, peerIdOfKey, peerKeyFromBase64, peerKeyToBase64 } = await import('../dist/node/gossip.js');
const { loadAlliance } = await import('../dist/node/config.js');

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { out: { type: 'string' }, host: { type: 'string' }, template: { type: 'string' }, city: { type: 'string' } },
});
if (!values.out) {
  process.stderr.write('usage: node deploy/init-alliance.mjs --out DIR [--host PATTERN] [--template FILE]\n');
  process.exit(2);
}
const out = values.out;
const templateFile = values.template ?? join(here, 'config', 'alliance.yaml');
let text = readFileSync(templateFile, 'utf8');
mkdirSync(join(out, 'keys'), { recursive: true });

const cities = parseYaml(text).members.map((m) => m.city);
if (values.city && !cities.some((c) => c.toLowerCase() === values.city.toLowerCase())) {
  process.stderr.write(`${values.city} is not a member in ${templateFile} (${cities.join(', ')})\n`);
  process.exit(2);
}
for (const city of cities) {
  if (values.city && city.toLowerCase() !== values.city.toLowerCase()) continue;
  const slug = city.toLowerCase().replace(/[^a-z]/g, '');
  const tag = slug.toUpperCase();
  const pemFile = join(out, 'keys', `${slug}.pem`);
  const p2pFile = join(out, 'keys', `${slug}.p2p`);
  let pair;
  if (existsSync(pemFile)) {
    pair = readPrivateKeyPem(readFileSync(pemFile, 'utf8'));
  } else {
    pair = generateKeyPair();
    writeFileSync(pemFile, writePrivateKeyPem(pair), { mode: 0o600, flag: 'wx' });
    chmodSync(pemFile, 0o600);
    writeFileSync(join(out, 'keys', `${slug}.pub.pem`), writePublicKeyPem(pair.publicKey));
  }
  let peerKey;
  if (existsSync(p2pFile)) {
    peerKey = peerKeyFromBase64(readFileSync(p2pFile, 'utf8'));
  } else {
    peerKey = await generatePeerKey();
    writeFileSync(p2pFile, peerKeyToBase64(peerKey) + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(p2pFile, 0o600);
  }
  const publicKey = Buffer.from(pair.publicKey).toString('hex');
  const peerId = peerIdOfKey(peerKey);
  text = text.replaceAll(`PUBLIC_KEY_HEX_${tag}`, publicKey).replaceAll(`PEER_ID_${tag}`, peerId);
  if (values.host) text = text.replaceAll(`tongxing.${slug}.example`, values.host.replaceAll('{city}', slug));
  process.stdout.write(JSON.stringify({ city, nodeId: nodeIdOf(pair.publicKey), publicKey, peerId, keyFile: pemFile, gossipKeyFile: p2pFile }) + '\n');
}

if (!values.city) {
  const allianceFile = join(out, 'alliance.yaml');
  writeFileSync(allianceFile, text);
  loadAlliance(allianceFile); // throws when a placeholder was left or a value is malformed
}
