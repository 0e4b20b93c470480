import { readFileSync } from 'node:fs';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { loadNodeConfig } from '../config.js';
import { BackupError, BackupFileWriter, signBackupRequest } from '../store/backup.js';
import { exitOk, optional, printJson, required, UsageError, type Command, type Io } from './command.js';
import { callNode, formatTime, hex, nodeIdPrefixChars, nodeOptions, nodeUsageLines } from './node-client.js';
import { progress, type Progress } from './progress.js';

// `tongxing backup`: a consistent snapshot of a running node's store, streamed
// over its client API into a file (format: node/store/backup.ts).

/** Progress bars go where the command's stderr goes; redrawn in place on a terminal. */
export function stderrProgress(io: Io, label: string, total: number): Progress {
  return progress(label, { total, unit: 'entries', stream: { write: (text: string) => io.stderr(text), isTTY: process.stderr.isTTY === true } });
}

const backup: Command = {
  path: ['backup'],
  summary: "Back up a running node's store into a file (a consistent snapshot; the node keeps serving)",
  usage: [
    '--out FILE [--node HOST:PORT] [--config NODE.yaml | --key KEY.pem] [--force] [--json]',
    '',
    '  --out FILE        the backup file; written as FILE.partial-* and renamed when complete',
    "  --config FILE     the node's configuration: its key signs the request, so the backup has the",
    "                    node's private state too (without it: only the logs and proofs every member has)",
    "  --key FILE        the node's signing key (PKCS#8 PEM), instead of --config",
    '  --force           replace FILE if it exists',
    ...nodeUsageLines,
    '',
    'The file (mode 0600) holds every log the node stores (entries and signed heads), its equivocation',
    "proofs and its private state (experts' personal records: protect the file), with a header (format",
    'version, alliance, node, time, counts) and an SM3 checksum. Restore it with `tongxing restore`,',
    'which verifies it first. Progress on stderr.',
    '',
    'Exit: 0 written, 2 bad usage, the node could not answer, or the file could not be written.',
  ].join('\n'),
  options: { ...nodeOptions, out: { type: 'string' }, config: { type: 'string' }, key: { type: 'string' }, force: { type: 'boolean' } },
  async run(args, io) {
    const out = required(args, 'out');
    const configFile = optional(args, 'config');
    const keyFile = optional(args, 'key');
    if (configFile !== undefined && keyFile !== undefined) throw new UsageError('pass --config or --key, not both');
    const keyPath = keyFile ?? (configFile === undefined ? undefined : loadNodeConfig(configFile).keyFile);
    const keyPair = keyPath === undefined ? undefined : readPrivateKeyPem(readFileSync(keyPath, 'utf8'));
    return callNode(args, io, async (api) => {
      // The request names the node and alliance it is for: ask the node first, then sign.
      const request = keyPair === undefined ? undefined : await api.getStatus().then((status) => signBackupRequest(keyPair, status.allianceId, hex(status.nodeId), Date.now()));
      const writer = await BackupFileWriter.create(out, args.values.force === true);
      let bar: Progress | undefined;
      try {
        let header;
        let entries = 0;
        let total = 0;
        let trailer = false;
        for await (const message of api.backup(request)) {
          await writer.write(message);
          const part = message.part;
          if (part?.$case === 'header') {
            header = part.value;
            total = header.logs.reduce((sum, log) => sum + Number(log.entries), 0);
            bar = stderrProgress(io, 'backup', total);
          } else if (part?.$case === 'chunk') {
            entries += part.value.entries.length;
            bar?.update(entries);
          } else if (part?.$case === 'trailer') {
            trailer = true;
          }
        }
        if (!header || !trailer) throw new BackupError(`the node's backup stream ended early (${header ? 'no trailer' : 'no header'}); nothing was written`);
        if (entries !== total) throw new BackupError(`the node sent ${entries} entries; its header lists ${total}; nothing was written`);
        const { bytes, checksum } = await writer.finish();
        bar?.finish(`${bytes.toLocaleString('en-US')} bytes`);
        const summary = {
          file: out,
          bytes,
          sm3: checksum.toString('hex'),
          formatVersion: header.formatVersion,
          allianceId: hex(header.allianceId),
          nodeId: hex(header.nodeId),
          createdAtMs: Number(header.createdAtMs),
          logs: header.logs.map((log) => ({ author: hex(log.author), entries: Number(log.entries) })),
          entries,
          proofs: header.proofs,
          privateStates: Number(header.privateStates),
          privateStateIncluded: header.privateStateIncluded,
        };
        if (args.values.json) printJson(io, summary);
        else {
          io.stdout(
            `backup of node ${summary.nodeId.slice(0, nodeIdPrefixChars)} as of ${formatTime(summary.createdAtMs)}: ` +
              `${entries.toLocaleString('en-US')} entries in ${summary.logs.length} logs, ${summary.proofs} equivocation proofs, ` +
              (header.privateStateIncluded ? `${summary.privateStates} private state keys\n` : 'no private state (pass --config to include it)\n') +
              `${out}: ${bytes.toLocaleString('en-US')} bytes, sm3 ${summary.sm3}\n`,
          );
        }
        return exitOk;
      } catch (error) {
        bar?.finish('failed');
        await writer.abort();
        throw error;
      }
    });
  },
};

export const backupCommands: Command[] = [backup];
