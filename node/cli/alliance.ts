import { existsSync, readFileSync } from 'node:fs';
import { CreditPolicy, GenesisBody, MemberRole, type GovernanceProposal, type Member, type RecognitionRule } from '../../gen/tongxing/records/v1/records.js';
import { validateCreditPolicy } from '../../federation/credit/method.js';
import type { GetGovernanceResponse } from '../../gen/tongxing/api/v1/governance.js';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { nodeIdOf } from '../../federation/crypto/sm2.js';
import { sm3Hex } from '../../federation/crypto/sm3.js';
import { readCertificates } from '../../federation/crypto/x509.js';
import { encodeGenesisBody, keyRotation, signAdmission, signGenesis, validateGenesisBody, verifyGenesis, withSignature } from '../../federation/governance/genesis.js';
import { roleName, roleNames } from '../../federation/governance/state.js';
import { configDefaults, gossipKeyPathFor, tlsPathFor } from '../config.js';
import { proposalHashPrefixCharsMin } from '../limits.js';
import { genesisToJson, joinRequestToJson, memberToJson, readGenesisFile, readJoinRequest, readMemberFile, snapshotToJson } from '../genesis-file.js';
import { governanceClient } from '../api/governance-client.js';
import { loadOrCreatePeerKey, peerIdOfKey } from '../gossip.js';
import { readTlsIdentity } from '../peer/tls.js';
import { describeRecognitionRule, recogniseEveryList } from '../../federation/views/recognition.js';
import { exitNegative, exitOk, many, optional, printJson, required, UsageError, type Command, type Io, type Options, type Parsed } from './command.js';
import { writeOutput } from './crypto.js';
import { answered, formatDuration, formatTime, hex, nodeConnection, nodeOptions, nodeUsageLines } from './node-client.js';
import { categories, listTypes } from './sanction.js';

// `tongxing alliance ...`: what alliance admins do (docs/ALLIANCE.md).
// Founding is offline and file based: each founder describes its node
// (member), one drafts the genesis, each signs it with its own key, anyone
// checks it (finalize). Changes afterwards go through a member's node:
// propose, approve, status. A new city makes a join request file.

/** Role names as the CLI takes them: the names governance reports them by. */
const roles: Record<string, MemberRole> = Object.fromEntries(Object.entries(roleNames).map(([role, name]) => [name, Number(role) as MemberRole]));

function parseRoles(text: string, option: string): MemberRole[] {
  return text.split(',').map((name) => {
    const role = roles[name.trim()];
    if (role === undefined) throw new UsageError(`${option}: unknown role ${JSON.stringify(name)}; roles are ${Object.keys(roles).join(', ')}`);
    return role;
  });
}

const dayMs = 86_400_000n;
/** A sanctions check fails closed when a member's newest head is older than this (a minute: beacons come every few seconds). */
const freshnessBudgetMsDefault = 60_000;

/** LIST[:GROUNDS,...][:MIN_DAYS d], e.g. serious-dishonesty:fraud,corruption:365d or bad-behaviour. */
export function parseRecognitionRule(spec: string): RecognitionRule {
  const [list = '', grounds = '', minimum = ''] = spec.split(':');
  const listType = list in listTypes ? listTypes[list as keyof typeof listTypes] : undefined;
  if (listType === undefined) throw new UsageError(`--recognize ${JSON.stringify(spec)}: list type must be one of ${Object.keys(listTypes).join(', ')}`);
  const groundsCategories = grounds === '' ? [] : grounds.split(',').map((g) => {
    const category = g in categories ? categories[g as keyof typeof categories] : undefined;
    if (category === undefined) throw new UsageError(`--recognize ${JSON.stringify(spec)}: grounds must be among ${Object.keys(categories).join(', ')}`);
    return category;
  });
  const days = /^(\d+)d$/.exec(minimum);
  if (minimum !== '' && !days) throw new UsageError(`--recognize ${JSON.stringify(spec)}: the minimum restriction is days, like 365d`);
  return { listType, grounds: groundsCategories, minRestrictionMs: days ? BigInt(days[1]!) * dayMs : 0n };
}

function writeNew(file: string, text: string, force: boolean): void {
  if (!force && existsSync(file)) throw new UsageError(`${file} exists; pass --force to overwrite it`);
  writeOutput(file, text);
}

/** The member record of the node whose SM2 key is `--key`, from the options every founder and joining city gives. */
async function memberFromOptions(args: Parsed): Promise<{ member: Member; keyFile: string }> {
  const keyFile = required(args, 'key');
  const keyPair = readPrivateKeyPem(readFileSync(keyFile, 'utf8'));
  const tls = readTlsIdentity(optional(args, 'tls') ?? tlsPathFor(keyFile));
  const peerId = peerIdOfKey(await loadOrCreatePeerKey(optional(args, 'gossip-key') ?? gossipKeyPathFor(keyFile)));
  const gossip = many(args, 'gossip').map((address) => (address.includes('/p2p/') ? address : `${address}/p2p/${peerId}`));
  const member: Member = {
    publicKey: Buffer.from(keyPair.publicKey),
    city: required(args, 'city'),
    regionCode: required(args, 'region'),
    endpoints: many(args, 'peer'),
    roles: parseRoles(optional(args, 'roles') ?? 'city-center,admin', '--roles'),
    libp2pPeerId: peerId,
    tlsCertificate: tls.certDer,
    gossipAddresses: gossip,
  };
  if (member.endpoints.length === 0) throw new UsageError(`--peer HOST:PORT is required (where other members reach this node's peer service, e.g. ${configDefaults.peerListen})`);
  return { member, keyFile };
}

const memberOptions = {
  key: { type: 'string' },
  tls: { type: 'string' },
  'gossip-key': { type: 'string' },
  city: { type: 'string' },
  region: { type: 'string' },
  peer: { type: 'string', multiple: true },
  gossip: { type: 'string', multiple: true },
  roles: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
} as const;

const memberUsage = [
  '  --key KEY.pem          the node\'s SM2 key (tongxing keygen)',
  '  --tls FILE             its TLS identity (default KEY.tls.pem, made by keygen)',
  '  --city NAME --region CODE   city and GB/T 2260 region code (e.g. Kunming 530100)',
  '  --peer HOST:PORT       where other members reach its peer service (repeatable)',
  '  --gossip MULTIADDR     its libp2p listen address, e.g. /ip4/10.1.2.3/tcp/7402 (repeatable; /p2p/<id> is added',
  '                         from the gossip key KEY.p2p, created when missing)',
  '  --roles LIST           city-center, admin, observer (default city-center,admin)',
  '  --out FILE [--force]',
];

const member: Command = {
  path: ['alliance', 'member'],
  summary: 'describe a founding node for the genesis draft (member file)',
  usage: ['--key KEY.pem --city NAME --region CODE --peer HOST:PORT [--gossip MULTIADDR] [--roles LIST] --out MEMBER.json', '', ...memberUsage].join('\n'),
  options: memberOptions,
  async run(args, io) {
    const { member } = await memberFromOptions(args);
    const out = required(args, 'out');
    writeNew(out, memberToJson(member), args.values.force === true);
    io.stdout(`${member.city} node ${nodeIdOf(member.publicKey)} described in ${out}\n`);
    return exitOk;
  },
};

const draft: Command = {
  path: ['alliance', 'draft'],
  summary: 'draft a genesis from the founders\' member files (then each founder signs it)',
  usage: [
    '--name NAME --member MEMBER.json... [--quorum N] [--trust-ca ROOT.pem]... [--recognize RULE]... [--freshness-budget-ms MS] --out GENESIS.json',
    '',
    '  --member FILE          a founder (alliance member output), one per founder',
    '  --quorum N             approvals a change needs (default: a majority of the admin founders)',
    '  --trust-ca FILE        a CA root certificate (PEM or DER) the alliance trusts; repeatable',
    '  --recognize RULE       LIST[:GROUNDS,...][:MIN_DAYSd], e.g. serious-dishonesty:fraud,corruption:365d;',
    '                         sanctions matching a rule are enforced by every member (default: every list type)',
    `  --freshness-budget-ms  a sanctions check fails closed beyond this (default ${freshnessBudgetMsDefault})`,
  ].join('\n'),
  options: {
    name: { type: 'string' },
    member: { type: 'string', multiple: true },
    quorum: { type: 'string' },
    'trust-ca': { type: 'string', multiple: true },
    recognize: { type: 'string', multiple: true },
    'freshness-budget-ms': { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
  },
  async run(args, io) {
    const founders = many(args, 'member').map(readMemberFile);
    if (founders.length === 0) throw new UsageError('--member is required, once per founder');
    const admins = founders.filter((f) => f.roles.includes(MemberRole.MEMBER_ROLE_ADMIN)).length;
    const quorum = optional(args, 'quorum');
    const rules = many(args, 'recognize').map(parseRecognitionRule);
    const body: GenesisBody = {
      allianceName: required(args, 'name'),
      founders,
      quorum: quorum === undefined ? Math.floor(admins / 2) + 1 : Number(quorum),
      trustedCaRoots: many(args, 'trust-ca').flatMap((file) => readCertificates(readFileSync(file)).map((c) => Buffer.from(c.der))),
      recognition: rules.length > 0 ? { rules } : recogniseEveryList,
      freshnessBudgetMs: BigInt(optional(args, 'freshness-budget-ms') ?? freshnessBudgetMsDefault),
      createdAtMs: BigInt(Date.now()),
    };
    validateGenesisBody(body);
    const out = required(args, 'out');
    writeNew(out, genesisToJson({ body: Buffer.from(encodeGenesisBody(body)), signatures: [] }), args.values.force === true);
    io.stdout(`drafted ${out}: ${founders.map((f) => f.city).join(', ')}; quorum ${body.quorum}. Each founder now runs: tongxing alliance sign ${out} --key KEY.pem\n`);
    return exitOk;
  },
};

/**
 * What a founder signs, in full: every fact of the body (what `alliance sign`
 * shows before signing and `finalize` shows when checking), so nobody signs a
 * genesis they have not read.
 */
function describeGenesis(body: GenesisBody, allianceId: Buffer): string {
  const admins = body.founders.filter((f) => f.roles.includes(MemberRole.MEMBER_ROLE_ADMIN)).length;
  const roots = body.trustedCaRoots.map((der) => {
    const [certificate] = readCertificates(der);
    return `    ${certificate?.subject ?? 'unreadable certificate'}  (SM3 ${sm3Hex(der).slice(0, 16)})`;
  });
  const rules = body.recognition?.rules ?? [];
  return [
    `${body.allianceName}`,
    `  alliance id       ${allianceId.toString('hex')}`,
    `  drafted           ${formatTime(Number(body.createdAtMs))}`,
    `  founders          ${body.founders.length}`,
    ...body.founders.map((f) => `    ${f.city.padEnd(12)} ${f.regionCode}  node ${nodeIdOf(f.publicKey).slice(0, 16)}  ${f.roles.map(roleName).join(', ')}  peer ${f.endpoints.join(', ')}${f.gossipAddresses.length > 0 ? `  gossip ${f.gossipAddresses.map((a) => a.replace(/\/p2p\/.*/, '')).join(', ')}` : ''}`),
    `  quorum            ${body.quorum} of ${admins} admins`,
    `  trusted CA roots  ${roots.length === 0 ? 'none (no certificate can be recorded until a root is trusted: alliance propose trust-ca)' : roots.length}`,
    ...(roots.length > 0 ? roots : []),
    `  recognised alliance-wide (enforced by every member, whoever issued them)${rules.length === 0 ? ': nothing; each sanction binds its issuer only' : ''}`,
    ...rules.map((rule, i) => `    rule ${i + 1}: ${describeRecognitionRule(rule)}`),
    `  freshness budget  ${formatDuration(Number(body.freshnessBudgetMs))}: a sanctions check fails closed when a member's data is older`,
    '',
  ].join('\n');
}

function genesisSummaryJson(body: GenesisBody, allianceId: Buffer, missing: string[]): object {
  return {
    allianceId: allianceId.toString('hex'),
    name: body.allianceName,
    founders: body.founders.map((f) => ({ city: f.city, regionCode: f.regionCode, nodeId: nodeIdOf(f.publicKey), roles: f.roles.map(roleName), endpoints: f.endpoints, gossipAddresses: f.gossipAddresses })),
    quorum: body.quorum,
    trustedCaRoots: body.trustedCaRoots.map((r) => sm3Hex(r)),
    recognition: (body.recognition?.rules ?? []).map(describeRecognitionRule),
    freshnessBudgetMs: Number(body.freshnessBudgetMs),
    missingSignatures: missing,
  };
}

const sign: Command = {
  path: ['alliance', 'sign'],
  summary: 'sign a genesis draft as one founder, with its own key (offline; the file is updated); prints what is signed',
  usage: ['GENESIS.json --key KEY.pem [--json]', '', '  the body is not changed: a founder who disagrees with it does not sign (alliance finalize shows it without signing)'].join('\n'),
  options: { key: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const file = args.positionals[0]!;
    const genesis = readGenesisFile(file);
    const keyPair = readPrivateKeyPem(readFileSync(required(args, 'key'), 'utf8'));
    const signed = withSignature(genesis, signGenesis(genesis.body, keyPair));
    const { body, allianceId, missing } = verifyGenesis(signed, { partial: true });
    writeOutput(file, genesisToJson(signed));
    const signer = body.founders.find((f) => Buffer.from(f.publicKey).equals(keyPair.publicKey))!.city;
    if (args.values.json) {
      printJson(io, { signedBy: signer, ...genesisSummaryJson(body, allianceId, missing) });
      return exitOk;
    }
    io.stdout(`${describeGenesis(body, allianceId)}\n`);
    io.stdout(missing.length === 0 ? `signed by ${signer}; every founder has signed ${file}: run tongxing alliance finalize ${file}\n` : `signed by ${signer}; still to sign: ${missing.join(', ')}\n`);
    return exitOk;
  },
};

const finalize: Command = {
  path: ['alliance', 'finalize'],
  summary: 'check a genesis: body valid and signed by every founder; print what it says and the alliance id',
  usage: ['GENESIS.json [--json]', '', 'exit 0 when final, 1 when signatures are missing or do not verify'].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const file = args.positionals[0]!;
    const { body, allianceId, missing } = verifyGenesis(readGenesisFile(file), { partial: true });
    if (args.values.json) printJson(io, genesisSummaryJson(body, allianceId, missing));
    else {
      io.stdout(`${describeGenesis(body, allianceId)}\n`);
      io.stdout(missing.length === 0 ? `final: signed by all ${body.founders.length} founders; nodes start with it (alliance: ${file})\n` : `not final: ${missing.join(', ')} must still sign\n`);
    }
    return missing.length === 0 ? exitOk : exitNegative;
  },
};

const joinRequest: Command = {
  path: ['alliance', 'join-request'],
  summary: 'as a new city: make the join request file the admins propose',
  usage: ['--genesis GENESIS.json --key KEY.pem --city NAME --region CODE --peer HOST:PORT [--gossip MULTIADDR] --out JOIN.json', '', ...memberUsage].join('\n'),
  options: { ...memberOptions, genesis: { type: 'string' } },
  async run(args, io) {
    const genesis = verifyGenesis(readGenesisFile(required(args, 'genesis')));
    const { member, keyFile } = await memberFromOptions(args);
    const keyPair = readPrivateKeyPem(readFileSync(keyFile, 'utf8'));
    const out = required(args, 'out');
    writeNew(out, joinRequestToJson(genesis.allianceId, { member, possessionSignature: signAdmission(genesis.allianceId, member, keyPair) }), args.values.force === true);
    io.stdout(`join request of ${member.city} (${nodeIdOf(member.publicKey).slice(0, 16)}) for "${genesis.body.allianceName}" in ${out}: send it to an admin, who runs tongxing alliance propose add-member ${out}\n`);
    return exitOk;
  },
};

/** A member named by city (case-insensitive) or by node id (or a unique prefix of at least 8 hex digits). */
function resolveMember(state: GetGovernanceResponse, name: string): Buffer {
  const lower = name.toLowerCase();
  const matches = state.members.filter((m) => m.city.toLowerCase() === lower || (lower.length >= 8 && hex(m.nodeId).startsWith(lower)));
  if (matches.length !== 1) throw new UsageError(`${JSON.stringify(name)} names ${matches.length === 0 ? 'no member' : 'more than one member'}; give a city or a node id (tongxing alliance status lists them)`);
  return Buffer.from(matches[0]!.nodeId);
}

/** A credit policy file: proto JSON of CreditPolicy, checked here as the node will check it. */
function readCreditPolicy(file: string): CreditPolicy {
  let policy: CreditPolicy;
  try {
    policy = CreditPolicy.fromJSON(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    throw new UsageError(`${file}: not a credit policy (CreditPolicy in proto JSON): ${(error as Error).message}`);
  }
  validateCreditPolicy(policy, 'policy');
  return policy;
}

type Action = NonNullable<GovernanceProposal['action']>;
const actions: Record<string, { usage: string; arity: number; build: (words: string[], state: GetGovernanceResponse, args: Parsed) => Action }> = {
  'add-member': {
    usage: 'add-member JOIN.json',
    arity: 1,
    build: ([file], state) => {
      const request = readJoinRequest(file!);
      if (request.allianceId !== hex(state.allianceId)) throw new UsageError(`${file} is a request to join alliance ${request.allianceId.slice(0, 12)}, not this one (${hex(state.allianceId).slice(0, 12)})`);
      return { $case: 'addMember', value: request.admission };
    },
  },
  suspend: { usage: 'suspend MEMBER', arity: 1, build: ([m], state) => ({ $case: 'suspendMember', value: resolveMember(state, m!) }) },
  reinstate: { usage: 'reinstate MEMBER', arity: 1, build: ([m], state) => ({ $case: 'reinstateMember', value: resolveMember(state, m!) }) },
  remove: { usage: 'remove MEMBER', arity: 1, build: ([m], state) => ({ $case: 'removeMember', value: resolveMember(state, m!) }) },
  roles: { usage: 'roles MEMBER ROLE[,ROLE]', arity: 2, build: ([m, r], state) => ({ $case: 'changeRoles', value: { nodeId: resolveMember(state, m!), roles: parseRoles(r!, 'roles') } }) },
  quorum: {
    usage: 'quorum N',
    arity: 1,
    build: ([n]) => {
      if (!/^\d+$/.test(n!)) throw new UsageError(`quorum must be a whole number, got ${JSON.stringify(n)}`);
      return { $case: 'changeQuorum', value: Number(n) };
    },
  },
  'trust-ca': { usage: 'trust-ca ROOT.pem', arity: 1, build: ([file]) => ({ $case: 'trustCa', value: Buffer.from(readCertificates(readFileSync(file!))[0]!.der) }) },
  'distrust-ca': {
    usage: 'distrust-ca ROOT.pem|SM3_FINGERPRINT',
    arity: 1,
    build: ([what]) => ({ $case: 'distrustCa', value: Buffer.from(/^[0-9a-f]{64}$/.test(what!) ? what! : sm3Hex(readCertificates(readFileSync(what!))[0]!.der), 'hex') }),
  },
  recognition: { usage: 'recognition RULE... (as alliance draft --recognize)', arity: -1, build: (rules) => ({ $case: 'changeRecognition', value: { rules: rules.map(parseRecognitionRule) } }) },
  'lift-sanction': { usage: 'lift-sanction ISSUER SANCTION_ID', arity: 2, build: ([issuer, id], state) => ({ $case: 'liftSanction', value: { issuer: resolveMember(state, issuer!), sanctionId: id! } }) },
  'update-member': { usage: 'update-member MEMBER.json', arity: 1, build: ([file]) => ({ $case: 'updateMember', value: readMemberFile(file!) }) },
  'credit-policy': {
    usage: 'credit-policy POLICY.json   (a CreditPolicy in proto JSON, a higher version than the one in force; docs/DOMAIN.md, "Credit index")',
    arity: 1,
    build: ([file]) => ({ $case: 'changeCreditPolicy', value: readCreditPolicy(file!) }),
  },
  'rotate-key': {
    usage: 'rotate-key NEW_KEY.pem [--tls NEW.tls.pem]   (at the node whose key it is)',
    arity: 1,
    build: ([file], state, args) => {
      const self = state.members.find((m) => m.self);
      if (!self) throw new UsageError('the node at --node is not a member: run rotate-key at the node whose key it rotates');
      const next = readPrivateKeyPem(readFileSync(file!, 'utf8'));
      const tls = optional(args, 'tls');
      return { $case: 'rotateKey', value: keyRotation(self.nodeId, next, tls ? readTlsIdentity(tls).certDer : undefined) };
    },
  },
};

/** Proposals and approvals are signed by an approver key, the second factor the node checks besides the credential. */
const approverOptions: Options = { ...nodeOptions, 'approver-key': { type: 'string' } };
const approverUsage = "  --approver-key KEY.pem  the SM2 key the node's registry names for this client (default: the credential's approverKeyFile)";

function withGovernance(args: Parsed, io: Io, use: (client: ReturnType<typeof governanceClient>) => Promise<number>): Promise<number> {
  return answered(args, io, async () => {
    const approverKey = optional(args, 'approver-key');
    const { address, options } = nodeConnection(args);
    const client = governanceClient(address, { ...options, approver: approverKey === undefined ? undefined : readPrivateKeyPem(readFileSync(approverKey, 'utf8')) });
    try {
      return await use(client);
    } finally {
      client.close();
    }
  });
}

const propose: Command = {
  path: ['alliance', 'propose'],
  summary: 'propose a change at this node (approvals from a quorum of admins make it take effect)',
  usage: [
    'ACTION ARGS... --reason TEXT [--node HOST:PORT] [--json]',
    '',
    ...Object.values(actions).map((a) => `  ${a.usage}`),
    '',
    '  MEMBER is a city name or a node id (prefix of 8+ hex digits)',
    ...nodeUsageLines,
    approverUsage,
  ].join('\n'),
  options: { reason: { type: 'string' }, tls: { type: 'string' }, ...approverOptions },
  positionals: { min: 1, max: 64 },
  async run(args, io) {
    const [name, ...words] = args.positionals as [string, ...string[]];
    const action = actions[name];
    if (!action) throw new UsageError(`unknown action ${JSON.stringify(name)}; actions: ${Object.keys(actions).join(', ')}`);
    if (action.arity >= 0 && words.length !== action.arity) throw new UsageError(`usage: tongxing alliance propose ${action.usage}`);
    if (action.arity < 0 && words.length === 0) throw new UsageError(`usage: tongxing alliance propose ${action.usage}`);
    const reason = required(args, 'reason');
    return withGovernance(args, io, async (client) => {
      const state = await client.getGovernance();
      const proposal: GovernanceProposal = { epoch: state.epoch, reason, action: action.build(words, state, args) };
      const reply = await client.propose(proposal);
      const hash = hex(reply.proposalHash);
      if (args.values.json) printJson(io, { proposalHash: hash, epoch: Number(reply.epoch) });
      else io.stdout(`proposal ${hash}\nnames epoch ${reply.epoch}; needs ${state.quorum} approvals (this node's counts if it is an admin).\nOther admins run: tongxing alliance approve ${hash} --node THEIR_NODE\n`);
      return exitOk;
    });
  },
};

/**
 * The proposal a hash or hash prefix names among those the node knows. A full
 * hash the node does not know is passed on, so the node says why (not written
 * yet, not replicated here yet); a prefix must name exactly one.
 */
export function resolveProposal(proposals: readonly { hash: Uint8Array }[], given: string): string {
  const text = given.toLowerCase();
  if (!new RegExp(`^[0-9a-f]{${proposalHashPrefixCharsMin},64}$`).test(text)) {
    throw new UsageError(`PROPOSAL_HASH must be at least ${proposalHashPrefixCharsMin} of the hex digits 'alliance propose' or 'alliance status' printed; got ${JSON.stringify(given)}`);
  }
  const matches = proposals.map((p) => hex(p.hash)).filter((hash) => hash.startsWith(text));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new UsageError(`PROPOSAL_HASH ${text} is ambiguous: it starts ${matches.map((m) => m.slice(0, 16)).join(', ')}; give more digits`);
  if (text.length === 64) return text;
  throw new UsageError(`PROPOSAL_HASH ${text}: no proposal known at this node starts with it (not written yet, or not replicated here yet; alliance status lists them)`);
}

const approve: Command = {
  path: ['alliance', 'approve'],
  summary: 'approve a pending proposal at this node',
  usage: ['PROPOSAL_HASH [--node HOST:PORT] [--json]', '', `  PROPOSAL_HASH  the hash alliance propose printed, or any unique prefix of ${proposalHashPrefixCharsMin}+ hex digits (as alliance status shows it)`, ...nodeUsageLines, approverUsage].join('\n'),
  options: approverOptions,
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const given = args.positionals[0]!;
    if (!new RegExp(`^[0-9a-fA-F]{${proposalHashPrefixCharsMin},64}$`).test(given)) resolveProposal([], given); // bad input is refused before calling anyone
    return withGovernance(args, io, async (client) => {
      const hash = resolveProposal((await client.getGovernance()).proposals, given);
      const reply = await client.approve(Buffer.from(hash, 'hex'));
      const proposal = (await client.getGovernance()).proposals.find((p) => hex(p.hash) === hash);
      if (args.values.json) printJson(io, { approved: hash, state: proposal?.state, approvals: proposal?.approvals.length, needed: proposal?.needed });
      else io.stdout(`approved ${hash.slice(0, 16)} (epoch ${reply.epoch}): ${proposal?.state === 'applied' ? `applied, epoch ${proposal.openedEpoch} opened` : `${proposal?.approvals.length ?? '?'} of ${proposal?.needed ?? '?'} approvals here so far`}\n`);
      return exitOk;
    });
  },
};

const status: Command = {
  path: ['alliance', 'status'],
  summary: 'members, epoch, quorum and proposals with their approvals, as this node sees them',
  usage: ['[--node HOST:PORT] [--json]', '', ...nodeUsageLines].join('\n'),
  options: nodeOptions,
  async run(args, io) {
    return withGovernance(args, io, async (client) => {
      const state = await client.getGovernance();
      const cityOf = (id: Uint8Array) => state.members.find((m) => Buffer.from(m.nodeId).equals(id))?.city ?? hex(id).slice(0, 12);
      if (args.values.json) {
        printJson(io, {
          allianceId: hex(state.allianceId),
          name: state.name,
          epoch: Number(state.epoch),
          quorum: state.quorum,
          members: state.members.map((m) => ({ city: m.city, nodeId: hex(m.nodeId), regionCode: m.regionCode, roles: m.roles.map(roleName), status: m.status, endpoints: m.endpoints, self: m.self })),
          proposals: state.proposals.map((p) => ({ hash: hex(p.hash), author: cityOf(p.author), epoch: Number(p.epoch), action: p.action, summary: p.summary, reason: p.reason, state: p.state, approvals: p.approvals.map(cityOf), needed: p.needed, detail: p.detail })),
          trustedCaRoots: state.trustedCaFingerprints.map(hex),
          recognition: state.recognition?.rules.map(describeRecognitionRule) ?? [],
          ignoredApprovals: state.ignoredApprovals.map((i) => ({ author: cityOf(i.author), seq: Number(i.seq), reason: i.reason })),
        });
        return exitOk;
      }
      io.stdout(`${state.name}  (alliance ${hex(state.allianceId).slice(0, 16)})\nepoch ${state.epoch}, quorum ${state.quorum}\n\nmembers\n`);
      for (const m of state.members) {
        io.stdout(`  ${m.self ? '*' : ' '} ${m.city.padEnd(12)} ${hex(m.nodeId).slice(0, 16)}  ${m.status.padEnd(9)} ${m.roles.map(roleName).join(', ')}\n`);
      }
      io.stdout(`\ntrusted CA roots: ${state.trustedCaFingerprints.length === 0 ? 'none' : state.trustedCaFingerprints.map((f) => hex(f).slice(0, 16)).join(', ')}\n`);
      io.stdout(`recognised alliance-wide: ${state.recognition?.rules.map(describeRecognitionRule).join('; ') || 'nothing (each sanction binds its issuer only)'}\n`);
      const open = state.proposals.filter((p) => p.state === 'pending');
      io.stdout(`\nproposals (${open.length} pending)\n`);
      for (const p of state.proposals) {
        io.stdout(`  ${hex(p.hash).slice(0, 16)}  ${p.state.padEnd(9)} ${p.summary}  [by ${p.authorCity || hex(p.author).slice(0, 12)}, epoch ${p.epoch}, ${p.approvals.length}/${p.needed}: ${p.approvals.map(cityOf).join(', ')}]${p.detail && p.state !== 'applied' ? `  ${p.detail}` : ''}\n`);
      }
      for (const i of state.ignoredApprovals) io.stdout(`  ignored approval by ${cityOf(i.author)} (seq ${i.seq}): ${i.reason}\n`);
      return exitOk;
    });
  },
};

const optOut: Command = {
  path: ['alliance', 'opt-out'],
  summary: "decline to enforce one member's sanction at this node, with a reason every member sees",
  usage: ['ISSUER SANCTION_ID --reason TEXT [--withdraw] [--node HOST:PORT]', '', '  ISSUER is a city name or node id', '  --withdraw   enforce it again', ...nodeUsageLines].join('\n'),
  options: { reason: { type: 'string' }, withdraw: { type: 'boolean' }, ...nodeOptions },
  positionals: { min: 2, max: 2 },
  async run(args, io) {
    const [issuer, sanctionId] = args.positionals as [string, string];
    const reason = required(args, 'reason');
    return withGovernance(args, io, async (client) => {
      const state = await client.getGovernance();
      await client.optOut({ optOut: { issuer: resolveMember(state, issuer), sanctionId, reason, withdrawn: args.values.withdraw === true } });
      io.stdout(args.values.withdraw ? `opt-out from ${sanctionId} withdrawn: enforced here again\n` : `opted out of ${sanctionId}: this node no longer enforces it; every member sees why\n`);
      return exitOk;
    });
  },
};

const snapshot: Command = {
  path: ['alliance', 'snapshot'],
  summary: "the current membership signed by this node: a new city may start from it instead of the genesis",
  usage: [
    '--out SNAPSHOT.json [--force] [--node HOST:PORT]',
    '',
    '  A node configured with `alliance: SNAPSHOT.json` reaches the members listed in it (not only the founders)',
    '  until it has replicated the governance records; give it to a joining city when the founders\' endpoints',
    '  have changed. It holds the genesis, so the alliance id is the same.',
    ...nodeUsageLines,
  ].join('\n'),
  options: { out: { type: 'string' }, force: { type: 'boolean' }, ...nodeOptions },
  async run(args, io) {
    const out = required(args, 'out');
    return withGovernance(args, io, async (client) => {
      const reply = await client.getSnapshot();
      writeNew(out, snapshotToJson(reply.snapshot!), args.values.force === true);
      io.stdout(`membership snapshot written to ${out}\n`);
      return exitOk;
    });
  },
};

export const allianceCommands: Command[] = [member, draft, sign, finalize, joinRequest, propose, approve, status, optOut, snapshot];
