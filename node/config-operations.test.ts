import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { loadNodeConfig } from './config.js';

// The operations keys of the node file (docs/CONFIG.md): defaults, and bad
// values refused with the field named.

const dir = mkdtempSync(join(tmpdir(), 'tongxing-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(extra: Record<string, unknown>) {
  const file = join(dir, 'node.yaml');
  writeFileSync(file, toYaml({ identity: { key: 'keys/k.pem' }, dataDir: 'data', alliance: 'genesis.json', ...extra }));
  return loadNodeConfig(file);
}

describe('node file: logLevel and telemetry', () => {
  it('defaults to info and no OTLP export', () => {
    expect(load({})).toMatchObject({ logLevel: 'info', otlpEndpoint: '', otlpExportIntervalMs: 15_000 });
  });

  it('takes a level and a collector', () => {
    const config = load({ logLevel: 'debug', telemetry: { otlpEndpoint: 'https://otel.internal:4318', otlpExportIntervalMs: 5000 } });
    expect(config).toMatchObject({ logLevel: 'debug', otlpEndpoint: 'https://otel.internal:4318', otlpExportIntervalMs: 5000 });
  });

  it('names the field of a bad value', () => {
    const refusal = (extra: Record<string, unknown>) => {
      try {
        load(extra);
      } catch (error) {
        return (error as { field?: string }).field;
      }
      return 'accepted';
    };
    expect(refusal({ logLevel: 'verbose' })).toBe('logLevel');
    expect(refusal({ telemetry: { otlpEndpoint: 'otel:4318' } })).toBe('telemetry.otlpEndpoint');
    expect(refusal({ telemetry: { otlpExportIntervalMs: 50 } })).toBe('telemetry.otlpExportIntervalMs');
    expect(refusal({ telemetry: { endpoint: 'http://otel:4318' } })).toBe('telemetry.endpoint');
  });
});
