// Regenerates docs/LIMITS.md from federation/limits.ts: `npx tsx scripts/limits-doc.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import * as limits from '../federation/limits.js';

const source = readFileSync(new URL('../federation/limits.ts', import.meta.url), 'utf8');
const rows = [...source.matchAll(/\/\*\* ([^*]+?) \*\/\nexport const (\w+) = ([^;]+);/g)].map(([, why, name, written]) => {
  const value = (limits as Record<string, number>)[name!]!;
  return `| \`${name}\` | ${value.toLocaleString('en-US')} | \`${written}\` | ${why!.replace(/\|/g, '\\|')} |`;
});
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
`,
);
