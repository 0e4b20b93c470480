// Regenerates the scope table in docs/HTTP.md from node/access/scopes.ts: `npx tsx scripts/scopes-doc.ts`.
import { readFileSync, writeFileSync } from 'node:fs';
import { scopeTable } from '../node/access/scopes.js';

const url = new URL('../docs/HTTP.md', import.meta.url);
const doc = readFileSync(url, 'utf8');
const [before, rest] = doc.split('<!-- scopes -->\n');
const after = rest!.split('<!-- /scopes -->')[1];
writeFileSync(url, `${before}<!-- scopes -->\n${scopeTable()}<!-- /scopes -->${after}`);
