// Regenerates docs/LIMITS.md from federation/limits.ts: `npx tsx scripts/limits-doc.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import * as limits from '../federation/limits.js';

const source = readFileSync(new URL('../federation/limits.ts', import.meta.url), 'utf8');
const rows = [...source.matchAll(/\/\*\* ([^*]+?) \*\/\nexport const (\w+) = ([^;]+);/g)].map(([, why, name, written]) => {
  const value = (limits as Record<string, number>)[name!]!;
  return `| \`${name}\` | ${value.toLocaleString('en-US')} | \`${written}\` | ${why!.replace(/\|/g, '\\|')} |`;
});
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const typical = 30;
/** Estimated bytes per remembered item. */
const challengeBytes = 110;
const nonceBytes = 64;
const rowErrorBytes = 200;
const verifiedHeadBytes = 200;
const precomputedKeyBytes = 71 * 1024;
const budget: Array<{ what: string; formula: string; bytes: (members: number) => number }> = [
  { what: 'staged imports', formula: '`importBytesTotalMax` + `importOutcomesKeptMax` × `importErrorsReportedMax` × 200 B', bytes: () => limits.importBytesTotalMax + limits.importOutcomesKeptMax * limits.importErrorsReportedMax * rowErrorBytes },
  { what: 'answered login challenges', formula: '`loginChallengesAnsweredMax` × 110 B (issued ones cost nothing)', bytes: () => limits.loginChallengesAnsweredMax * challengeBytes },
  { what: 'peer credential nonces', formula: 'M × `credentialNoncesPerCallerMax` × 64 B', bytes: (m) => m * limits.credentialNoncesPerCallerMax * nonceBytes },
  { what: 'gossip validation', formula: 'M × `gossipMessageBytesMax` (one message validated per peer at a time) + `verifiedHeadsMax` × 200 B + `precomputedKeysMax` × 71 KiB', bytes: (m) => m * limits.gossipMessageBytesMax + limits.verifiedHeadsMax * verifiedHeadBytes + Math.min(limits.precomputedKeysMax, m * 2) * precomputedKeyBytes },
  { what: 'pull streams served', formula: 'M × `pullsInFlightPerPeerMax` × `pullWindowBytes`', bytes: (m) => m * limits.pullsInFlightPerPeerMax * limits.pullWindowBytes },
  { what: 'pulls received', formula: 'M × `pullWindowBytes` (one pull per author at a time; its candidates are tried one after another)', bytes: (m) => m * limits.pullWindowBytes },
];
const total = (members: number) => budget.reduce((sum, b) => sum + b.bytes(members), 0);

writeFileSync(
  new URL('../docs/LIMITS.md', import.meta.url),
  `# Limits

Every bound in Tongxing, with its value and why. They live in \`federation/limits.ts\`
(one place, each with a one-line reason); \`test/docs.test.ts\` fails when this table
and the code disagree (regenerate with \`npx tsx scripts/limits-doc.ts\`). Units are in
the names (\`Ms\`, \`Bytes\`, \`Chars\`, \`Entries\`).

| name | value | as written | why |
| --- | --- | --- | --- |
${rows.join('\n')}

When a limit is exceeded the error says the actual numbers (\`LimitError\`,
\`RESOURCE_EXHAUSTED\` over gRPC).

## Memory a node may spend on what others send it

What callers and peers can make a node hold, from the limits above (computed by
\`scripts/limits-doc.ts\`; per-item sizes are estimates of V8's objects). M is the
number of members; the worst case takes \`allianceMembersMax\`, the typical one an
alliance of ${typical}.

| what | formula | M = ${typical} | M = ${limits.allianceMembersMax} |
| --- | --- | --- | --- |
${budget.map((b) => `| ${b.what} | ${b.formula} | ${mib(b.bytes(typical))} | ${mib(b.bytes(limits.allianceMembersMax))} |`).join('\n')}
| **total** | | **${mib(total(typical))}** | **${mib(total(limits.allianceMembersMax))}** |

The pull windows dominate the worst case: each member may hold
\`pullsInFlightPerPeerMax\` streams, each running up to \`pullWindowBytes\`
ahead, and each author's log is pulled through one window; an alliance of
hundreds would lower the window before it grew there.
`,
);
