import { execFile } from 'node:child_process';
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
});
