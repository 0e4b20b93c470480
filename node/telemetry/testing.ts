import { expect } from 'vitest';
import { judgeFreshness } from '../../federation/freshness.js';
import type { ReplicationLag } from './replication.js';

// For tests: scraping a real /metrics endpoint on 127.0.0.1 and reading the
// Prometheus text, and lag readings as a replica would give them.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export async function scrape(port: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  const samples: Sample[] = [];
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(match, line).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, key, value] of match![2]?.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[key!] = value!;
    samples.push({ name: match![1]!, labels, value: Number(match![3]) });
  }
  return samples;
}

/** The value of the one sample with exactly these labels; undefined when absent. */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = samples.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
  expect(found.length, `${name}${want}`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

/** Another member's lag with a head of age `ageMs` (undefined: none heard) at `nowMs`, judged against `budgetMs`. */
export function lagOf(member: string, city: string, entries: number, ageMs: number | undefined, nowMs: number, budgetMs: number): ReplicationLag {
  const signedAtMs = ageMs === undefined ? undefined : nowMs - ageMs;
  return { member, city, entries, ageMs, freshness: judgeFreshness({ nodeId: member, signedAtMs }, 'this node', nowMs, budgetMs) };
}
