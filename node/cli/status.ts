import { exitOk, printJson, type Command } from './command.js';
import { callNode, formatDuration, hex, nodeIdPrefixChars, nodeOptions, nodeUsageLines } from './node-client.js';

// `tongxing node status`: the node's view of the alliance at a glance.

const status: Command = {
  path: ['node', 'status'],
  summary: "Show a node's view of the alliance: each member's log, how far behind and how fresh",
  usage: [
    '[--node HOST:PORT] [--json]',
    '',
    ...nodeUsageLines,
    '',
    'Columns: member city, node id prefix, stored seq / known seq (behind by N: entries heard of but not',
    'yet stored), head age (since the newest head of its log heard here was signed), last contact (last',
    'peer call or gossip from it), flags (self: this node; EQUIVOCATED: signed two histories, quarantined).',
    '',
    'Exit: 0 answered, 2 bad usage or the node could not answer.',
  ].join('\n'),
  options: nodeOptions,
  async run(args, io) {
    return callNode(args, io, async (api) => {
      const reply = await api.getStatus();
      const nowMs = Date.now();
      const members = reply.members.map((m) => ({
        nodeId: hex(m.nodeId),
        city: m.city,
        regionCode: m.regionCode,
        storedSeq: Number(m.storedSeq),
        knownSeq: Number(m.knownSeq),
        behindBy: Math.max(0, Number(m.knownSeq - m.storedSeq)),
        headAgeMs: m.headAgeMs < 0n ? null : Number(m.headAgeMs),
        lastContactMs: m.lastContactMs === 0n ? null : Number(m.lastContactMs),
        equivocated: m.equivocated,
        self: m.self,
      }));
      if (args.values.json) {
        printJson(io, {
          nodeId: hex(reply.nodeId),
          city: reply.city,
          allianceId: hex(reply.allianceId),
          uptimeMs: Number(reply.uptimeMs),
          entriesStored: Number(reply.entriesStored),
          members,
        });
        return exitOk;
      }
      const rows = members.map((m) => [
        m.city || '?',
        m.nodeId.slice(0, nodeIdPrefixChars),
        `${m.storedSeq} / ${m.knownSeq}${m.behindBy > 0 ? ` (behind by ${m.behindBy})` : ''}`,
        m.headAgeMs === null ? 'never heard' : formatDuration(m.headAgeMs),
        m.self ? '-' : m.lastContactMs === null ? 'never' : `${formatDuration(Math.max(0, nowMs - m.lastContactMs))} ago`,
        [m.self ? 'self' : '', m.equivocated ? 'EQUIVOCATED' : ''].filter(Boolean).join(', '),
      ]);
      const header = ['city', 'node id', 'stored / known', 'head age', 'last contact', 'flags'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
      io.stdout(
        [
          `${reply.city} node ${hex(reply.nodeId).slice(0, nodeIdPrefixChars)}, alliance ${hex(reply.allianceId).slice(0, nodeIdPrefixChars)}, ` +
            `up ${formatDuration(Number(reply.uptimeMs))}, ${reply.entriesStored} entries stored`,
          '',
          line(header),
          ...rows.map(line),
          '',
        ].join('\n'),
      );
      return exitOk;
    });
  },
};

export const statusCommands: Command[] = [status];
