import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ok } from './testing.js';

// The CLI as a process: what a shell pipeline sees (bin/tongxing.js from dist/: `make test` builds first).

const root = new URL('../..', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

describe('tongxing as a process', () => {
  it('prints its version', async () => {
    expect(await ok('--version')).toBe(`tongxing ${version}\n`);
  });

  it('exits quietly with its own code when the reader closes the pipe before it writes (`... | head`)', async () => {
    const child = spawn(process.execPath, [join(root, 'bin/tongxing.js'), 'uscc', 'check', '91350100M000100Y43'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the CLI has loaded, so its first write meets a closed pipe: EPIPE every time.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
