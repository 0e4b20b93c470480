import { execFile, spawn } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// `make demo` is the project's front door: it runs the real node processes
// (bin/tongxing.js from dist/; `make test` builds first) and must tell its story.

describe('tongxing demo', () => {
  it('shows a sanction enforced everywhere, a cross-city login and an audited remote draw', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, '../../bin/tongxing.js'), 'demo', '--json'], { timeout: 120_000 });
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ ok: true, login: { valid: true, replay: 'LOGIN_OUTCOME_CHALLENGE_USED' }, draw: { audit: 'AUDIT_VERDICT_MATCH' } });
    expect(result.draw.panel).toHaveLength(3);
    expect(result.draw.panel.every((seat: { home: string }) => seat.home !== 'Kunming')).toBe(true); // other cities only
  }, 150_000);

  it('with --keep, opens the operator console with a sign-in and runs until Ctrl-C', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/tongxing.js'), 'demo', '--keep', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let stdout = '';
      const result = await new Promise<{ ok: boolean; console: { url: string; token: string } }>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          try {
            resolve(JSON.parse(stdout));
          } catch {
            // not the whole object yet
          }
        });
        void exited.then((code) => reject(new Error(`demo exited ${code} before it printed its sign-in: ${stdout}`)));
      });
      expect(result.ok).toBe(true);
      // The console's page, and the printed token signs in (the node's certificate is its own: not checked here).
      const call = (path: string, body?: string) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const url = new URL(path, result.console.url);
          const req = request(url, { method: body === undefined ? 'GET' : 'POST', rejectUnauthorized: false, headers: body === undefined ? {} : { 'content-type': 'application/json', authorization: `Bearer ${result.console.token}` } }, (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const page = await call('/console/');
      expect(page.status).toBe(200);
      expect(page.text).toContain('<div id="app">');
      const session = await call('/v1/ConsoleService/GetConsoleSession', '{}');
      expect(JSON.parse(session.text)).toMatchObject({ client: 'demo-operator', approver: true, city: 'Kunming' });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 150_000);
});
