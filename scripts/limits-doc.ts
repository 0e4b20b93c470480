// Regenerates docs/LIMITS.md from federation/limits.ts and node/limits.ts: `npx tsx scripts/limits-doc.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import * as core from '../federation/limits.js';
import * as node from '../node/limits.js';

/** The table of one limits module, read from its source (the one-line why above each export) and its values. */
function table(path: string, values: Record<string, number>): string {
  const source = readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
  const rows = [...source.matchAll(/\/\*\* ([^*]+?) \*\/\nexport const (\w+) = ([^;]+);/g)].map(([, why, name, written]) => {
    const value = values[name!]!;
    return `| \`${name}\` | ${value.toLocaleString('en-US')} | \`${written}\` | ${why!.replace(/\|/g, '\\|')} |`;
  });
  if (rows.length !== Object.keys(values).length) throw new Error(`${path}: ${rows.length} documented limits of ${Object.keys(values).length}: each needs a one-line /** why */ above it`);
  return ['| name | value | as written | why |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
/** The typical alliance and clients calling at once; the worst case takes allianceMembersMax and accessClientsMax. */
const typical = { members: 30, clients: 10 };
const worst = { members: core.allianceMembersMax, clients: node.accessClientsMax };
/** Estimated bytes per remembered item. */
const challengeBytes = 110;
const nonceBytes = 64;
const rowErrorBytes = 200;
const verifiedHeadBytes = 200;
const precomputedKeyBytes = 71 * 1024;
const spanBytes = 2 * 1024;

type Term = 'fixed' | 'per member' | 'per client';
interface Cost {
  readonly what: string;
  readonly term: Term;
  readonly formula: string;
  /** Bytes for M members (per-member and fixed costs may depend on M only through the formula). */
  readonly bytes: (members: number) => number;
}
const costs: Cost[] = [
  { what: 'staged imports', term: 'fixed', formula: '`importBytesTotalMax` + `importOutcomesKeptMax` × `importErrorsReportedMax` × 200 B', bytes: () => node.importBytesTotalMax + node.importOutcomesKeptMax * node.importErrorsReportedMax * rowErrorBytes },
  { what: 'answered login challenges', term: 'fixed', formula: '`loginChallengesAnsweredMax` × 110 B (issued ones cost nothing)', bytes: () => node.loginChallengesAnsweredMax * challengeBytes },
  { what: 'spans kept and queued for OTLP', term: 'fixed', formula: '(`spansKeptMax` + `otlpSpansQueuedMax`) × 2 KiB', bytes: () => (node.spansKeptMax + node.otlpSpansQueuedMax) * spanBytes },
  { what: 'verified heads and precomputed keys', term: 'fixed', formula: '`verifiedHeadsMax` × 200 B + min(`precomputedKeysMax`, 2M) × 71 KiB (two keys a member while one rotates)', bytes: (m) => core.verifiedHeadsMax * verifiedHeadBytes + Math.min(core.precomputedKeysMax, m * 2) * precomputedKeyBytes },
  { what: 'peer credential nonces', term: 'per member', formula: '`credentialNoncesPerCallerMax` × 64 B', bytes: () => node.credentialNoncesPerCallerMax * nonceBytes },
  { what: 'gossip validation', term: 'per member', formula: '`gossipMessageBytesMax` (one message validated per peer at a time)', bytes: () => core.gossipMessageBytesMax },
  { what: 'pull streams served', term: 'per member', formula: '`pullsInFlightPerPeerMax` × `pullWindowBytes`', bytes: () => core.pullsInFlightPerPeerMax * node.pullWindowBytes },
  { what: 'pulls received', term: 'per member', formula: '`pullWindowBytes` (one pull per author at a time; its candidates are tried one after another)', bytes: () => node.pullWindowBytes },
  { what: 'client API calls in flight', term: 'per client', formula: '`clientCallsInFlightMax` × `httpRequestBytesMax` (each admitted call holds its request; answers are built per call and small, an export page or one `backupMessageBytesMax` backup message at most)', bytes: () => node.clientCallsInFlightMax * node.httpRequestBytesMax },
];
const sum = (term: Term, members: number) => costs.filter((c) => c.term === term).reduce((total, c) => total + c.bytes(members), 0);
const total = (at: { members: number; clients: number }) => sum('fixed', at.members) + at.members * sum('per member', at.members) + at.clients * sum('per client', at.members);
const atTypical = (c: Cost) => (c.term === 'fixed' ? c.bytes(typical.members) : c.bytes(typical.members) * (c.term === 'per member' ? typical.members : typical.clients));
const atWorst = (c: Cost) => (c.term === 'fixed' ? c.bytes(worst.members) : c.bytes(worst.members) * (c.term === 'per member' ? worst.members : worst.clients));
const where = (c: Cost) => (c.term === 'fixed' ? '' : c.term === 'per member' ? 'M × ' : 'C × ');

writeFileSync(
  new URL('../docs/LIMITS.md', import.meta.url),
  `# Limits

Every bound in Tongxing, with its value and why. The protocol core's bounds,
which the node and the simulator share, live in \`federation/limits.ts\`; the
node process's own (client API, peer links, gossip transport, telemetry, backups,
logins, imports, access and audit) in \`node/limits.ts\`. Each has a one-line
reason there; \`test/docs.test.ts\` fails when these tables and the code disagree
(regenerate with \`npx tsx scripts/limits-doc.ts\`). Units are in the names
(\`Ms\`, \`Bytes\`, \`Chars\`, \`Entries\`).

## Protocol core (\`federation/limits.ts\`)

${table('federation/limits.ts', core)}

## Node (\`node/limits.ts\`)

${table('node/limits.ts', node)}

When a limit is exceeded the error says the actual numbers (\`LimitError\`,
\`RESOURCE_EXHAUSTED\` over gRPC).

## Memory a node may spend on what others send it

What callers and peers can make a node hold, from the limits of both modules
(computed by \`scripts/limits-doc.ts\`; per-item sizes are estimates of V8's
objects). M is the number of members, C the number of registered clients calling
at once. The typical case is an alliance of ${typical.members} with ${typical.clients} clients calling; the
worst case takes \`allianceMembersMax\` (${worst.members}) and \`accessClientsMax\` (${worst.clients.toLocaleString('en-US')}).

| what | formula | M = ${typical.members}, C = ${typical.clients} | M = ${worst.members}, C = ${worst.clients.toLocaleString('en-US')} |
| --- | --- | --- | --- |
${costs.map((c) => `| ${c.what} | ${where(c)}${c.formula} | ${mib(atTypical(c))} | ${mib(atWorst(c))} |`).join('\n')}
| **total** | | **${mib(total(typical))}** | **${mib(total(worst))}** |

So a node may buffer at most

    fixed + M × per member + C × per client
      = ${mib(sum('fixed', typical.members))} (at M = ${typical.members}) + M × ${mib(sum('per member', typical.members))} + C × ${mib(sum('per client', typical.members))}

The per-client term dominates once many clients call at once: each may keep
\`clientCallsInFlightMax\` calls in flight and no limit spans all clients
together, so the worst case above is far beyond any machine; what bounds a node
in practice is how many platforms call it at once, and a center with many busy
ones should watch the node's memory. Among peers the pull windows
dominate: each member may hold \`pullsInFlightPerPeerMax\` streams, each running
up to \`pullWindowBytes\` ahead, and each author's log is pulled through one
window; an alliance of hundreds would lower the window before it grew there.
`,
);
