import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as coreLimits from '../federation/limits.js';
import * as nodeLimits from '../node/limits.js';
import { scopeTable } from '../node/access/scopes.js';
import { commands } from '../node/cli/commands.js';
import { errorTableMarkdown } from '../node/error-table.js';

// The docs stay true: every limit is listed with its current value, the scope
// and error tables are the ones the code applies, and the README's quick start
// and CLI overview match what exists.

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('docs', () => {
  it('LIMITS.md lists every limit of both modules with its value', () => {
    const doc = read('docs/LIMITS.md');
    for (const [name, value] of Object.entries({ ...coreLimits, ...nodeLimits })) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\``));
      expect(row, `${name} is missing from docs/LIMITS.md`).toBeDefined();
      expect(row, `${name} has another value in docs/LIMITS.md`).toContain(`| ${value.toLocaleString('en-US')} |`);
    }
  });

  it('HTTP.md shows the scope table the guard enforces', () => {
    const shown = read('docs/HTTP.md').split('<!-- scopes -->\n')[1]!.split('<!-- /scopes -->')[0];
    expect(shown, 'regenerate with npx tsx scripts/scopes-doc.ts').toBe(scopeTable());
  });

  it('ARCHITECTURE.md shows the error table every server and the CLI use', () => {
    const shown = read('docs/ARCHITECTURE.md').split('<!-- errors -->\n')[1]!.split('<!-- /errors -->')[0];
    expect(shown, 'regenerate with npx tsx scripts/errors-doc.ts').toBe(errorTableMarkdown());
  });

  it('the README quick start is exactly make demo and make test', () => {
    const readme = read('README.md');
    const quickStart = readme.split('## Quick start')[1]!.split('##')[0]!;
    const commandsShown = [...quickStart.matchAll(/^make \w+/gm)].map((m) => m[0]);
    expect(commandsShown).toEqual(['make demo', 'make test']);
  });

  it('the README CLI overview names only commands that exist', () => {
    const readme = read('README.md');
    const named = [...readme.matchAll(/^\| `tongxing ([a-z ]+?)(?: [A-Z-]|`| \[|\\\|)/gm)].map((m) => m[1]!.trim());
    expect(named.length).toBeGreaterThan(5);
    const paths = commands.map((c) => c.path.join(' '));
    for (const name of named) expect(paths.some((p) => p === name || p.startsWith(`${name} `)), `tongxing ${name}`).toBe(true);
  });
});
