import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

// The guides' command blocks as scripts: extracted from the Markdown (so a doc
// cannot drift from what the tests run), split into steps, and each step's
// output checked against the `# ` lines after it, where `...` stands for
// anything. A step is one command line: `\` continuations are joined, and a
// here-document (`<<'END'` ... `END`) belongs to the command that opens it.

export const repositoryRoot = new URL('..', import.meta.url).pathname;

export interface Step {
  readonly command: string;
  readonly expected: string[];
}

/** The fenced sh blocks after each `<!-- MARKER -->` in `doc`, in order. */
export function markedBlocks(doc: string, marker: string): string[] {
  const parts = readFileSync(join(repositoryRoot, doc), 'utf8').split(`<!-- ${marker} -->`).slice(1);
  if (parts.length === 0) throw new Error(`${doc} has no block marked <!-- ${marker} -->`);
  return parts.map((after) => {
    const block = /^\s*```sh\n([\s\S]*?)```/.exec(after);
    if (!block) throw new Error(`${doc}: <!-- ${marker} --> is not followed by a sh block`);
    return block[1]!;
  });
}

export function parseSteps(script: string): Step[] {
  const steps: Array<{ command: string; expected: string[] }> = [];
  const lines = script.replace(/\\\n\s*/g, ' ').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('# ')) {
      steps.at(-1)?.expected.push(line.slice(2));
      continue;
    }
    if (line.trim() === '') continue;
    const heredoc = /<<'?(\w+)'?/.exec(line);
    if (!heredoc) {
      steps.push({ command: line, expected: [] });
      continue;
    }
    const end = lines.indexOf(heredoc[1]!, i + 1);
    if (end < 0) throw new Error(`here-document ${heredoc[1]} opened by ${JSON.stringify(line)} never ends`);
    steps.push({ command: lines.slice(i, end + 1).join('\n'), expected: [] });
    i = end;
  }
  return steps;
}

const marker = '@@tongxing-step@@';

/** One bash program running `steps` in order, stopping at the first that fails, with a marker line (and the time in ms) before each. */
export function stepProgram(steps: readonly Step[], prelude: readonly string[] = []): string {
  return [...prelude, 'set -eo pipefail', ...steps.flatMap((s) => [`echo "${marker} $(date +%s%3N)"`, s.command])].join('\n');
}

/** When each step started (ms since the epoch, by the markers; a step's output need not end its line), for figures. */
export function stepStartsMs(output: string): number[] {
  return [...output.matchAll(new RegExp(`${marker} (\\d+)\n`, 'g'))].map((m) => Number(m[1]));
}

/** Checks what the program printed against each step's expectations; returns each step's output. */
export function checkStepOutputs(steps: readonly Step[], output: string): string[] {
  const outputs = output.split(new RegExp(`${marker} \\d+\n`)).slice(1);
  expect(outputs.length, `only ${outputs.length} of ${steps.length} steps ran; output:\n${output}`).toBe(steps.length);
  steps.forEach((step, i) => {
    for (const expected of step.expected) {
      let at = 0;
      for (const fragment of expected.split('...')) {
        const found = outputs[i]!.indexOf(fragment, at);
        expect(found, `${step.command}\nprinted ${outputs[i]}\nexpected ${expected}`).toBeGreaterThanOrEqual(0);
        at = found + fragment.length;
      }
    }
  });
  return outputs;
}
