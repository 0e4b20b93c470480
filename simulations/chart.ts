// One SVG per run, hand-written (no dependency): the CDF of T99 and T100 over
// records, and, after a partition heals, the coverage of the records written
// before the heal (fraction of node-record pairs stored, fraction of nodes
// holding all of them) against the time since the heal.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HealCoverage, RunReport } from './report.js';

const width = 640;
const height = 300;
const margin = { left: 56, right: 16, top: 34, bottom: 42 };

interface Series {
  readonly label: string;
  readonly colour: string;
  /** x ascending; y in 0..1. */
  readonly points: ReadonlyArray<readonly [number, number]>;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Round tick steps (1, 2, 5 x 10^k) giving about `count` ticks up to `max`. */
function ticks(max: number, count: number): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const result: number[] = [];
  for (let t = 0; t <= max + step / 1000; t += step) result.push(Math.round(t * 1000) / 1000);
  return result;
}

function plot(title: string, xLabel: string, yLabel: string, series: readonly Series[], offsetY: number): string {
  const xMax = Math.max(1, ...series.flatMap((s) => s.points.map(([x]) => x)).filter(Number.isFinite));
  const innerW = width - margin.left - margin.right;
  const innerH = height - margin.top - margin.bottom;
  const sx = (x: number): number => margin.left + (Math.min(x, xMax) / xMax) * innerW;
  const sy = (y: number): number => offsetY + margin.top + (1 - y) * innerH;
  const parts: string[] = [];
  parts.push(`<text x="${margin.left}" y="${offsetY + 20}" font-size="14" font-weight="bold">${escape(title)}</text>`);
  for (const t of ticks(xMax, 8)) {
    parts.push(`<line x1="${sx(t)}" y1="${sy(0)}" x2="${sx(t)}" y2="${sy(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${sx(t)}" y="${sy(0) + 16}" font-size="11" text-anchor="middle">${t}</text>`);
  }
  for (const t of [0, 0.25, 0.5, 0.75, 0.99, 1]) {
    parts.push(`<line x1="${sx(0)}" y1="${sy(t)}" x2="${sx(xMax)}" y2="${sy(t)}" stroke="${t === 0.99 ? '#f3c' : '#eee'}" stroke-dasharray="${t === 0.99 ? '4 3' : ''}"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${sy(t) + 4}" font-size="11" text-anchor="end">${t}</text>`);
  }
  parts.push(`<rect x="${margin.left}" y="${offsetY + margin.top}" width="${innerW}" height="${innerH}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${margin.left + innerW / 2}" y="${offsetY + height - 8}" font-size="12" text-anchor="middle">${escape(xLabel)}</text>`);
  parts.push(`<text x="14" y="${offsetY + margin.top + innerH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${offsetY + margin.top + innerH / 2})">${escape(yLabel)}</text>`);
  series.forEach((s, i) => {
    const finitePoints = s.points.filter(([x]) => Number.isFinite(x));
    if (finitePoints.length > 0) {
      const d = finitePoints.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
    }
    const lx = width - margin.right - 170;
    const ly = offsetY + margin.top + 16 + i * 16;
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${s.colour}" stroke-width="2"/>`);
    parts.push(`<text x="${lx + 24}" y="${ly}" font-size="11">${escape(s.label)}</text>`);
  });
  return parts.join('\n');
}

/** Empirical CDF of ascending `sorted` as a step line. */
function cdf(sorted: readonly number[]): Array<[number, number]> {
  const points: Array<[number, number]> = [[0, 0]];
  sorted.forEach((x, i) => {
    points.push([x, i / sorted.length], [x, (i + 1) / sorted.length]);
  });
  return points;
}

export function renderChart(report: RunReport, t99Ms: readonly number[], t100Ms: readonly number[], heal: HealCoverage | undefined): string {
  const panels = heal === undefined ? 1 : 2;
  const parts: string[] = [];
  const title = `${report.scenario} seed ${report.seed}: ${report.nodes} nodes, loss ${report.loss}, ${report.records} records`;
  parts.push(
    plot(
      `${title}: T99 p99 ${report.t99_ms_p99 ?? 'never'} ms, T100 p99 ${report.t100_ms_p99 ?? 'never'} ms`,
      'ms after the write',
      'fraction of records',
      [
        { label: 'T99 (99% of honest nodes)', colour: '#1f77b4', points: cdf(t99Ms) },
        { label: 'T100 (every honest node)', colour: '#d62728', points: cdf(t100Ms) },
      ],
      0,
    ),
  );
  if (heal !== undefined) {
    parts.push(
      plot(
        `after the heal: all ${heal.records} earlier records everywhere in ${report.heal_ms ?? 'never'} ms`,
        'ms since the heal',
        'fraction',
        [
          { label: 'node-record pairs stored', colour: '#2ca02c', points: heal.samples.map((s) => [s.sinceHealMs, s.pairs] as const) },
          { label: 'nodes with every record', colour: '#9467bd', points: heal.samples.map((s) => [s.sinceHealMs, s.nodes] as const) },
        ],
        height,
      ),
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height * panels}" viewBox="0 0 ${width} ${height * panels}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes the chart of a run under `directory`; returns its path. */
export function writeChart(directory: string, report: RunReport, t99Ms: readonly number[], t100Ms: readonly number[], heal: HealCoverage | undefined): string {
  mkdirSync(directory, { recursive: true });
  const path = join(directory, `sim-${report.scenario}-n${report.nodes}-seed${report.seed.replace(/[^A-Za-z0-9_.-]/g, '_')}.svg`);
  writeFileSync(path, renderChart(report, t99Ms, t100Ms, heal));
  return path;
}
