import '../node/polyfill.js';
import { randomInt } from 'node:crypto';
import { runFuzz } from '../node/api/http.fuzz.js';

// `make fuzz` (REQUESTS=n, SEED=s): the HTTP/JSON fuzzer of node/api/http.fuzz.ts
// at length, printing its figures (or --json). Exit 1 when anything failed,
// with the failing requests and the command that replays them.

function option(argv: readonly string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

async function main(argv: readonly string[]): Promise<number> {
  const seed = option(argv, 'seed') || String(randomInt(2 ** 31));
  const requests = Number(option(argv, 'requests') ?? 1_000_000);
  const concurrency = Number(option(argv, 'concurrency') ?? 48);
  const only = option(argv, 'only')?.split(',').map(Number);
  process.stderr.write(`fuzz: seed ${seed}, ${only ? `requests ${only.join(',')}` : `${requests.toLocaleString('en-US')} requests`}, ${concurrency} in flight\n`);
  const report = await runFuzz({
    seed,
    requests,
    concurrency,
    only,
    onProgress: (answered) => process.stderr.write(`\rfuzz: ${answered.toLocaleString('en-US')} answered, RSS ${mib(process.memoryUsage.rss())} MiB`),
  });
  process.stderr.write('\n');
  if (argv.includes('--json')) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    const { rssBytes, written } = report;
    const lines = [
      `seed                ${report.seed}`,
      `requests            ${report.requests.toLocaleString('en-US')} (${report.writeRequests.toLocaleString('en-US')} to write methods), ${report.concurrency} in flight`,
      `seconds             ${report.seconds.toFixed(1)}`,
      `body MiB            ${mib(report.bodyBytes.sent)} sent, ${mib(report.bodyBytes.received)} received`,
      `requests/s          ${Math.round(report.requestsPerSecond).toLocaleString('en-US')}`,
      `statuses            ${Object.entries(report.statuses).map(([s, n]) => `${s}: ${n.toLocaleString('en-US')}`).join(', ')}`,
      `kinds               ${Object.entries(report.kinds).map(([k, n]) => `${k}: ${n.toLocaleString('en-US')}`).join(', ')}`,
      `paths               ${report.openApiPaths.length} in /openapi.json, all sent to: ${report.openApiPaths.every((p) => Object.keys(report.targets).some((t) => t.endsWith(` ${p}`)))}`,
      `RSS MiB             ${mib(rssBytes.before)} before, ${mib(rssBytes.peak)} peak, ${mib(rssBytes.after)} after (after a full GC)`,
      `heap used MiB       ${mib(report.heapUsedBytes.before)} before, ${mib(report.heapUsedBytes.after)} after (after a full GC)`,
      `written             ${written.storeCommits} store commits; own seq ${written.ownSeqBefore} -> ${written.ownSeqAfter}; clients ${written.clientsBefore} -> ${written.clientsAfter}`,
      `healthy after       ${report.healthyAfter}`,
      `failures            ${report.failuresTotal} (INTERNAL errors logged: ${report.internalErrorsLogged})`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  for (const failure of report.failures) process.stdout.write(`  #${failure.index} [${failure.kind}] ${failure.why}\n    ${failure.request}\n`);
  if (report.failures.length > 0) {
    process.stdout.write(`replay: node dist/bench/fuzz.js --seed ${seed} --only ${report.failures.map((f) => f.index).join(',')}\n`);
  }
  const clean = report.failuresTotal === 0 && report.healthyAfter && report.written.storeCommits === 0 && report.written.ownSeqAfter === report.written.ownSeqBefore && report.written.clientsAfter === report.written.clientsBefore;
  return clean ? 0 : 1;
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fuzz: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
