import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Nodes started by tests publish their admin credentials under TONGXING_HOME
// (node/access/credential.ts): one temporary home for the whole run, never ~/.tongxing.
export default function setup(): () => void {
  const home = mkdtempSync(join(tmpdir(), 'tongxing-home-'));
  process.env.TONGXING_HOME = home;
  return () => rmSync(home, { recursive: true, force: true });
}
