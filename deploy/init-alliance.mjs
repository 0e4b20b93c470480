#!/usr/bin/env node
// Founds the example alliance of deploy/ (Kunming 530100, Guiyang 520100,
// Nanning 450100) in one step, for a trial or the compose setup: every city's
// keys, and a genesis signed by all three founders, so that containers can
// mount everything read-only from the first start. A real alliance is founded
// with the CLI instead, each center keeping its own key (docs/ALLIANCE.md:
// tongxing keygen, alliance member, draft, sign, finalize); this script does
// the same steps with every key in one place.
//
//   node deploy/init-alliance.mjs --out DIR [--host PATTERN] [--ports CITY=PEER,GOSSIP]...
//   node deploy/init-alliance.mjs --out /etc/tongxing --city Kunming [--host PATTERN] > kunming.member.json
//
//   --out DIR        writes DIR/keys/<city>.pem (SM2, 0600), <city>.pub.pem,
//                    <city>.tls.pem (TLS key + self-signed certificate, 0600),
//                    <city>.p2p (libp2p Ed25519, 0600): what `tongxing keygen
//                    --out DIR/keys/<city>.pem` writes. Keys already there are
//                    kept (the node id must not change). Then DIR/genesis.json
//                    (tongxing-genesis/1, final: signed by the three founders);
//                    an existing genesis.json with the same founders is kept
//                    (same alliance id), any other is replaced
//   --host PATTERN   host name (or IP address) of each member's peer and gossip
//                    endpoints, {city} = lower-case city name (compose: '{city}';
//                    default: tongxing.{city}.example)
//   --ports CITY=PEER,GOSSIP   other ports for one city (repeatable; default
//                    those of deploy/config: peer 7400, gossip 7402); for several
//                    cities on one host, e.g. --host 127.0.0.1 --ports guiyang=7410,7412
//   --city NAME      only this member's keys, and its member description
//                    (tongxing-member/1, as `tongxing alliance member` makes it)
//                    on stdout for the founder who drafts the genesis; no genesis
//
// Every founder: roles city-center and admin; quorum 2; every list type
// recognised; freshness budget 60 s. Needs dist/ (run `make` first). Prints one
// JSON line per city, then one for the genesis ({genesisFile, allianceId, kept}).
import '../dist/node/polyfill.js';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { readPrivateKeyPem, writePrivateKeyPem, writePublicKeyPem } = await import('../dist/federation/crypto/pem.js');
const { generateKeyPair, nodeIdOf } = await import('../dist/federation/crypto/sm2.js');
const { generatePeerKey, peerIdOfKey, peerKeyFromBase64, peerKeyToBase64 } = await import('../dist/node/gossip.js');
const { generateTlsIdentity, readTlsIdentity, writeTlsIdentity } = await import('../dist/node/peer/tls.js');
const { allianceIdOf, encodeGenesisBody, signGenesis, verifyGenesis, withSignature } = await import('../dist/federation/governance/genesis.js');
const { genesisToJson, loadGenesis, memberToJson } = await import('../dist/node/genesis-file.js');
const { recogniseEveryList } = await import('../dist/federation/views/recognition.js');
const { MemberRole } = await import('../dist/gen/tongxing/records/v1/records.js');

/** The example alliance: city, GB/T 2260 region code (deploy/config/<city>.yaml). */
const cities = [
  ['Kunming', '530100'],
  ['Guiyang', '520100'],
  ['Nanning', '450100'],
];
const allianceName = 'Western Cities Trading Alliance';
const quorum = 2;
const freshnessBudgetMs = 60_000n;
/** The ports of the example node files (peer.listen, gossip.listen). */
const defaultPorts = { peer: 7400, gossip: 7402 };

const usage = 'usage: node deploy/init-alliance.mjs --out DIR [--host PATTERN] [--ports CITY=PEER,GOSSIP]... [--city NAME]\n';
function fail(message) {
  process.stderr.write(`${message}\n${usage}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: { out: { type: 'string' }, host: { type: 'string' }, ports: { type: 'string', multiple: true }, city: { type: 'string' } },
  }));
} catch (error) {
  fail(error.message);
}
if (!values.out) fail('--out DIR is required');
const out = values.out;
const hostPattern = values.host ?? 'tongxing.{city}.example';
const slugOf = (city) => city.toLowerCase().replace(/[^a-z]/g, '');
const known = cities.map(([city]) => slugOf(city)).join(', ');
if (values.city && !cities.some(([city]) => slugOf(city) === slugOf(values.city))) fail(`${values.city} is not a member of the example alliance (${known})`);

const ports = new Map();
for (const spec of values.ports ?? []) {
  const match = /^([^=]+)=(\d{1,5}),(\d{1,5})$/.exec(spec);
  if (!match) fail(`--ports ${spec}: expected CITY=PEER,GOSSIP, e.g. guiyang=7410,7412`);
  const slug = slugOf(match[1]);
  if (!cities.some(([city]) => slugOf(city) === slug)) fail(`--ports ${spec}: ${match[1]} is not one of ${known}`);
  const [peer, gossip] = [Number(match[2]), Number(match[3])];
  if (peer < 1 || peer > 65535 || gossip < 1 || gossip > 65535) fail(`--ports ${spec}: ports are 1..65535`);
  ports.set(slug, { peer, gossip });
}

/** A libp2p multiaddr for a host name or an IP address. */
function multiaddrHost(host) {
  const family = isIP(host);
  return family === 4 ? `/ip4/${host}` : family === 6 ? `/ip6/${host}` : `/dns4/${host}`;
}

/** Writes a secret file, never over an existing one, mode 0600 whatever the umask. */
function writeSecret(path, text) {
  writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

/** The city's keys, made when missing (what `tongxing keygen` writes), and its member record. */
async function cityIdentity(city, regionCode) {
  const slug = slugOf(city);
  const keys = join(out, 'keys');
  const files = {
    keyFile: join(keys, `${slug}.pem`),
    publicKeyFile: join(keys, `${slug}.pub.pem`),
    tlsFile: join(keys, `${slug}.tls.pem`),
    gossipKeyFile: join(keys, `${slug}.p2p`),
  };
  let keyPair;
  if (existsSync(files.keyFile)) keyPair = readPrivateKeyPem(readFileSync(files.keyFile, 'utf8'));
  else {
    keyPair = generateKeyPair();
    writeSecret(files.keyFile, writePrivateKeyPem(keyPair));
  }
  if (!existsSync(files.publicKeyFile)) writeFileSync(files.publicKeyFile, writePublicKeyPem(keyPair.publicKey));
  const nodeId = nodeIdOf(keyPair.publicKey);
  let tls;
  if (existsSync(files.tlsFile)) tls = readTlsIdentity(files.tlsFile);
  else {
    tls = await generateTlsIdentity(`${city} ${nodeId.slice(0, 12)}`);
    writeTlsIdentity(files.tlsFile, tls);
    chmodSync(files.tlsFile, 0o600);
  }
  let peerKey;
  if (existsSync(files.gossipKeyFile)) peerKey = peerKeyFromBase64(readFileSync(files.gossipKeyFile, 'utf8'));
  else {
    peerKey = await generatePeerKey();
    writeSecret(files.gossipKeyFile, peerKeyToBase64(peerKey) + '\n');
  }
  const peerId = peerIdOfKey(peerKey);
  const host = hostPattern.replaceAll('{city}', slug);
  const { peer, gossip } = ports.get(slug) ?? defaultPorts;
  const member = {
    publicKey: Buffer.from(keyPair.publicKey),
    city,
    regionCode,
    endpoints: [`${isIP(host) === 6 ? `[${host}]` : host}:${peer}`],
    roles: [MemberRole.MEMBER_ROLE_CITY_CENTER, MemberRole.MEMBER_ROLE_ADMIN],
    libp2pPeerId: peerId,
    tlsCertificate: tls.certDer,
    gossipAddresses: [`${multiaddrHost(host)}/tcp/${gossip}/p2p/${peerId}`],
  };
  return { city, regionCode, nodeId, keyPair, member, peerId, files };
}

mkdirSync(join(out, 'keys'), { recursive: true });

if (values.city) {
  const [city, regionCode] = cities.find(([c]) => slugOf(c) === slugOf(values.city));
  const { nodeId, member, files } = await cityIdentity(city, regionCode);
  process.stdout.write(memberToJson(member));
  const names = Object.values(files).map((f) => f.slice(f.lastIndexOf('/') + 1)).join(', ');
  process.stderr.write(`${city} node ${nodeId}: keys in ${join(out, 'keys')} (${names}); send the member description (stdout) to the founder who drafts the genesis\n`);
} else {
  await foundAlliance();
}

/** Every city's keys and the genesis all three founders signed. */
async function foundAlliance() {
  const founders = [];
  for (const [city, regionCode] of cities) founders.push(await cityIdentity(city, regionCode));

  const genesisFile = join(out, 'genesis.json');
  const body = {
    allianceName,
    founders: founders.map((f) => f.member),
    quorum,
    trustedCaRoots: [],
    recognition: recogniseEveryList,
    freshnessBudgetMs,
    createdAtMs: BigInt(Date.now()),
  };
  // A rerun keeps a final genesis whose body differs only in its creation time:
  // same alliance id, so stores made with it stay valid.
  let kept;
  if (existsSync(genesisFile)) {
    try {
      const old = loadGenesis(genesisFile);
      if (Buffer.from(encodeGenesisBody({ ...body, createdAtMs: old.body.createdAtMs })).equals(old.genesis.body)) kept = old;
    } catch {
      // Not a final genesis: replaced below.
    }
  }
  let allianceId;
  if (kept) allianceId = kept.allianceId;
  else {
    const bytes = encodeGenesisBody(body);
    let genesis = { body: Buffer.from(bytes), signatures: [] };
    for (const founder of founders) genesis = withSignature(genesis, signGenesis(bytes, founder.keyPair));
    verifyGenesis(genesis); // every founder signed: final
    if (existsSync(genesisFile)) {
      process.stderr.write(`${genesisFile}: replaced by a new genesis (other founders, endpoints or keys), so a new alliance id: nodes that ran with the old file need empty data directories\n`);
    }
    writeFileSync(genesisFile, genesisToJson(genesis));
    allianceId = allianceIdOf(bytes);
  }

  for (const f of founders) {
    process.stdout.write(JSON.stringify({
      city: f.city,
      regionCode: f.regionCode,
      nodeId: f.nodeId,
      publicKey: Buffer.from(f.keyPair.publicKey).toString('hex'),
      peerId: f.peerId,
      endpoint: f.member.endpoints[0],
      gossip: f.member.gossipAddresses[0],
      ...f.files,
    }) + '\n');
  }
  process.stdout.write(JSON.stringify({ genesisFile, allianceId: Buffer.from(allianceId).toString('hex'), kept: kept !== undefined }) + '\n');
}
