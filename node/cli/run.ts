import { loadAlliance, loadNodeConfig } from '../config.js';
import { startNode } from '../node.js';
import { exitOk, required, type Command } from './command.js';

/** The line a supervisor (or the demo) waits for; JSON after the marker. */
export const readyMarker = 'tongxing node ready ';

const start: Command = {
  path: ['node', 'start'],
  summary: 'run a city node until SIGINT or SIGTERM',
  usage: '--config NODE.yaml\n\n  --config FILE  node configuration (docs/CONFIG.md)\n',
  options: { config: { type: 'string' } },
  async run(args, io) {
    const config = loadNodeConfig(required(args, 'config'));
    const alliance = loadAlliance(config.allianceFile);
    const node = await startNode(config, alliance, (line) => io.stderr(`${new Date().toISOString()} ${line}\n`));
    io.stdout(
      readyMarker +
        JSON.stringify({
          nodeId: node.nodeId,
          city: node.city,
          peerPort: node.peerPort,
          apiPort: node.apiPort,
          metricsPort: node.metricsPort,
          gossip: node.gossipAddresses,
        }) +
        '\n',
    );
    await new Promise<void>((resolve) => {
      const shutdown = () => {
        process.off('SIGINT', shutdown);
        process.off('SIGTERM', shutdown);
        resolve();
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    });
    io.stderr(`${new Date().toISOString()} stopping: finishing in-flight batches\n`);
    await node.stop();
    return exitOk;
  },
};

export const runCommands: Command[] = [start];
