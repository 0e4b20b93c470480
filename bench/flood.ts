import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rmSync } from 'node:fs';
import { usccFor } from '../federation/testing/records.js';
import { connectApi } from '../node/api/client.js';
import { gossipKeyPathFor, loadNodeConfig } from '../node/config.js';
import { loadGenesis } from '../node/genesis-file.js';
import { writeLocalAlliance } from '../node/local-alliance.js';
import { startNode } from '../node/node.js';

// Issue 12's gossip flood, measured: a member's libp2p identity publishes
// garbage on the alliance topic as fast as it can while a platform checks
// sanctions at the flooded node; the checks' p99 latency with the flood
// against without it, in one run. The flooder is graylisted after
// gossipInvalidMessagesMax invalid messages and costs little after that.

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function floodFigures(checks = 3000, floodMs = 15_000) {
  const { dir, cities } = await writeLocalAlliance({ cities: 2 });
  const config = loadNodeConfig(cities[0]!.configFile);
  const node = await startNode(config);
  const api = connectApi(`127.0.0.1:${node.apiPort}`);
  const allianceIdHex = loadGenesis(config.allianceFile).allianceId.toString('hex');
  let stop = () => true;
  try {
    const latencies = async () => {
      const ms: number[] = [];
      for (let i = 0; i < checks; i++) {
        const start = performance.now();
        await api.checkSanctions(usccFor(i % 100));
        ms.push(performance.now() - start);
      }
      return ms;
    };
    await latencies(); // warm up: connections, precomputed keys
    const quiet = await latencies();

    // Guiyang's own gossip identity (a member, which the node admits and then graylists), flooding from its own process.
    const flooder = spawn(process.execPath, [fileURLToPath(new URL('./flood-peer.js', import.meta.url)), allianceIdHex, gossipKeyPathFor(cities[1]!.keyFile), node.gossipAddresses[0]!, String(floodMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    stop = () => flooder.kill('SIGKILL');
    let printed = '';
    flooder.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const exited = new Promise<void>((resolve) => flooder.once('exit', () => resolve()));
    await sleep(1000); // connected and flooding
    const loud = await latencies();
    await exited;
    const sent = Number(printed.trim());
    const p99Quiet = percentile(quiet, 99);
    const p99Loud = percentile(loud, 99);
    return {
      flood_messages_sent: sent,
      check_ms_p99_quiet: p99Quiet,
      check_ms_p99_flooded: p99Loud,
      check_p99_flooded_vs_quiet: p99Loud / p99Quiet,
    };
  } finally {
    stop();
    api.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
