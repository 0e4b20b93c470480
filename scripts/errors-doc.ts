// Regenerates the error table in docs/ARCHITECTURE.md from node/error-table.ts: `npx tsx scripts/errors-doc.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import { errorTableMarkdown } from '../node/error-table.js';

const url = new URL('../docs/ARCHITECTURE.md', import.meta.url);
const doc = readFileSync(url, 'utf8');
const [before, rest] = doc.split('<!-- errors -->\n');
const after = rest!.split('<!-- /errors -->')[1];
writeFileSync(url, `${before}<!-- errors -->\n${errorTableMarkdown()}<!-- /errors -->${after}`);
