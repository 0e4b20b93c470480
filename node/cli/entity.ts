import { readFile } from 'node:fs/promises';
import type { Provenance } from '../../gen/tongxing/api/v1/api.js';
import { EntityProfile, LegalRole } from '../../gen/tongxing/records/v1/records.js';
import { hlcWallMs } from '../../federation/log/hlc.js';
import { exitNegative, exitOk, many, optional, printJson, UsageError, type Command, type Parsed } from './command.js';
import { callNode, formatTime, hex, nodeIdPrefixChars, nodeOptions, nodeUsageLines } from './node-client.js';

// `tongxing entity register|update|show`: market entities (市场主体) through a node's client API.

const roleNames: Record<string, LegalRole> = {
  bidder: LegalRole.LEGAL_ROLE_BIDDER,
  tenderer: LegalRole.LEGAL_ROLE_TENDERER,
  agency: LegalRole.LEGAL_ROLE_AGENCY,
  other: LegalRole.LEGAL_ROLE_OTHER,
};

export function roleName(role: LegalRole): string {
  return Object.keys(roleNames).find((name) => roleNames[name] === role) ?? `role ${role}`;
}

/** A proto JSON file (camelCase or snake_case keys) holding one object, decoded by the generated fromJSON. */
export async function readProtoJson<T>(file: string, decode: (object: unknown) => T): Promise<T> {
  const text = await readFile(file, 'utf8');
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not JSON: ${(error as Error).message}`);
  }
  if (typeof object !== 'object' || object === null || Array.isArray(object)) throw new UsageError(`${file}: must hold one JSON object`);
  try {
    return decode(object);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}

/** Provenance as --json prints it: hex node id, numbers, and the wall time of its clock. */
export function provenanceJson(p: Provenance | undefined): object | null {
  if (!p) return null;
  return { author: hex(p.author), authorCity: p.authorCity, seq: Number(p.seq), hlc: p.hlc.toString(), atMs: hlcWallMs(p.hlc) };
}

export function describeProvenance(p: Provenance): string {
  return `${p.authorCity || 'unknown member'} (${hex(p.author).slice(0, nodeIdPrefixChars)}), log seq ${p.seq}, ${formatTime(hlcWallMs(p.hlc))}`;
}

function rolesFromOptions(args: Parsed): LegalRole[] {
  return many(args, 'role').map((role) => {
    const value = roleNames[role];
    if (value === undefined) throw new UsageError(`--role must be one of ${Object.keys(roleNames).join(', ')}; got ${JSON.stringify(role)}`);
    return value;
  });
}

/** The profile fields register and update take as options; --file replaces them. */
const profileFieldOptions = {
  name: { type: 'string' },
  role: { type: 'string', multiple: true },
  region: { type: 'string' },
  representative: { type: 'string' },
} as const;
const profileFields = Object.keys(profileFieldOptions);

function refuseFileWithFields(args: Parsed, fields: readonly string[]): string | undefined {
  const file = optional(args, 'file');
  if (file && fields.some((o) => args.values[o] !== undefined)) {
    throw new UsageError(`--file replaces ${fields.map((o) => `--${o}`).join(', ')}; give one or the other`);
  }
  return file;
}

function profileFromOptions(args: Parsed): EntityProfile {
  const uscc = optional(args, 'uscc');
  const name = optional(args, 'name');
  if (!uscc) throw new UsageError('give --file PROFILE.json, or --uscc and --name');
  if (!name) throw new UsageError('--name is required with --uscc');
  const roles = rolesFromOptions(args);
  // Positions 3-8 of a USCC are the registering authority's division: a fair default for the entity's region.
  const region = optional(args, 'region') ?? (/^\d{6}$/.test(uscc.slice(2, 8)) ? uscc.slice(2, 8) : '');
  return EntityProfile.fromPartial({
    uscc,
    legalName: name,
    roles: roles.length > 0 ? roles : [LegalRole.LEGAL_ROLE_BIDDER],
    regionCode: region,
    legalRepresentative: optional(args, 'representative') ?? '',
  });
}

const register: Command = {
  path: ['entity', 'register'],
  summary: 'Register a market entity (市场主体) at this node, its home node',
  usage: [
    '(--file PROFILE.json | --uscc CODE --name NAME [--role ROLE]... [--region CODE] [--representative NAME])',
    '       [--node HOST:PORT] [--json]',
    '',
    '  --file PROFILE.json     an EntityProfile in the proto JSON mapping (camelCase or snake_case keys), e.g.',
    '                          {"uscc": "91350100M000100Y43", "legalName": "...", "roles": ["LEGAL_ROLE_BIDDER"],',
    '                           "regionCode": "350100"}; the only way to set an override for a legacy code',
    '  --uscc CODE             unified social credit code (GB 32100-2015)',
    '  --name NAME             legal name (LEGAL_NAME)',
    '  --role ROLE             bidder, tenderer, agency or other; repeat for several (default bidder)',
    '  --region CODE           GB/T 2260 division, 6 digits (default: positions 3-8 of the USCC)',
    '  --representative NAME   legal representative (LEGAL_REPRESENT)',
    ...nodeUsageLines,
    '',
    'An entity is registered once, at its home node, and replicated to every member; a code already',
    'registered by another member is refused (ALREADY_EXISTS). Change a profile with tongxing entity update.',
    '',
    'Exit: 0 registered, 1 refused (already registered), 2 bad input or the node could not answer.',
  ].join('\n'),
  options: { ...nodeOptions, file: { type: 'string' }, uscc: { type: 'string' }, ...profileFieldOptions },
  async run(args, io) {
    const file = refuseFileWithFields(args, ['uscc', ...profileFields]);
    const profile = file ? await readProtoJson(file, EntityProfile.fromJSON) : profileFromOptions(args);
    return callNode(args, io, async (api) => {
      const reply = await api.registerEntity(profile);
      if (args.values.json) {
        printJson(io, { uscc: profile.uscc, legalName: profile.legalName, provenance: provenanceJson(reply.provenance) });
      } else {
        io.stdout(`registered ${profile.uscc} (${profile.legalName}) at ${describeProvenance(reply.provenance!)}\n`);
      }
      return exitOk;
    });
  },
};

const update: Command = {
  path: ['entity', 'update'],
  summary: 'Change the profile of a market entity registered at this node (its home node)',
  usage: [
    '(USCC [--name NAME] [--role ROLE]... [--region CODE] [--representative NAME] | --file PROFILE.json)',
    '       [--node HOST:PORT] [--json]',
    '',
    '  USCC                    the entity to change: its profile as the node has it, with the fields given replaced',
    '  --name, --role, --region, --representative   as for entity register; --role given replaces all roles',
    '  --file PROFILE.json     the whole new profile (proto JSON, as for entity register)',
    ...nodeUsageLines,
    '',
    'Only the home node (the member that registered it first) changes an entity; every member then shows',
    'the new profile. The same profile again changes nothing.',
    '',
    'Exit: 0 updated (or unchanged), 1 refused (not registered, or homed at another member), 2 bad input or the node could not answer.',
  ].join('\n'),
  options: { ...nodeOptions, file: { type: 'string' }, ...profileFieldOptions },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const file = refuseFileWithFields(args, profileFields);
    if (file && args.positionals.length > 0) throw new UsageError('--file names the entity by its uscc; give USCC or --file, not both');
    if (!file && args.positionals.length === 0) throw new UsageError('give the USCC of the entity to change, or --file PROFILE.json');
    if (!file && !profileFields.some((o) => args.values[o] !== undefined)) {
      throw new UsageError('nothing to change: give --name, --role, --region or --representative (or --file PROFILE.json)');
    }
    const given = file ? await readProtoJson(file, EntityProfile.fromJSON) : undefined;
    return callNode(args, io, async (api) => {
      let profile = given;
      if (!profile) {
        const uscc = args.positionals[0]!;
        const current = await api.getEntity(uscc);
        if (!current.found) {
          io.stderr(`tongxing entity update: ${uscc} is not registered at any member this node has heard from; register it with tongxing entity register\n`);
          return exitNegative;
        }
        const roles = rolesFromOptions(args);
        profile = EntityProfile.fromPartial({
          ...current.profile!,
          ...(optional(args, 'name') !== undefined && { legalName: optional(args, 'name') }),
          ...(roles.length > 0 && { roles }),
          ...(optional(args, 'region') !== undefined && { regionCode: optional(args, 'region') }),
          ...(optional(args, 'representative') !== undefined && { legalRepresentative: optional(args, 'representative') }),
        });
      }
      const reply = await api.updateEntity(profile);
      if (args.values.json) printJson(io, { uscc: profile.uscc, legalName: profile.legalName, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`updated ${profile.uscc} (${profile.legalName}): profile stated at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const show: Command = {
  path: ['entity', 'show'],
  summary: 'Show a market entity as this node knows it: profile, home node, other registrations',
  usage: [
    'USCC [--node HOST:PORT] [--json]',
    '',
    '  USCC   unified social credit code, exactly as issued',
    ...nodeUsageLines,
    '',
    'Exit: 0 found, 1 not known to this node, 2 bad input or the node could not answer.',
  ].join('\n'),
  options: nodeOptions,
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const uscc = args.positionals[0]!;
    return callNode(args, io, async (api) => {
      const reply = await api.getEntity(uscc);
      if (args.values.json) {
        printJson(io, {
          uscc,
          found: reply.found,
          ...(reply.found && {
            profile: EntityProfile.toJSON(reply.profile!),
            home: provenanceJson(reply.home),
            latest: provenanceJson(reply.latest),
            observations: reply.observations.map(provenanceJson),
          }),
        });
        return reply.found ? exitOk : exitNegative;
      }
      if (!reply.found) {
        io.stdout(`${uscc}: not registered at any member whose log this node holds\n`);
        return exitNegative;
      }
      const p = reply.profile!;
      const lines = [
        `${p.uscc}  ${p.legalName}`,
        `  roles:           ${p.roles.map(roleName).join(', ')}`,
        `  region:          ${p.regionCode}`,
      ];
      if (p.legalRepresentative) lines.push(`  representative:  ${p.legalRepresentative}`);
      if (p.legalType) lines.push(`  legal type:      ${p.legalType}`);
      if (p.registeredCapital) lines.push(`  capital:         ${p.registeredCapital} yuan`);
      if (p.legalStatus) lines.push(`  status:          ${p.legalStatus}`);
      if (p.usccOverride) lines.push(`  legacy code accepted by override: ${p.usccOverride.reason} (approved by ${p.usccOverride.approvedBy})`);
      lines.push(`  home node:       ${describeProvenance(reply.home!)}`);
      if (reply.latest && reply.latest.seq !== reply.home!.seq) lines.push(`  profile from:    update at ${describeProvenance(reply.latest)}`);
      for (const o of reply.observations) lines.push(`  also registered: ${describeProvenance(o)} (ignored: not the home node)`);
      io.stdout(lines.join('\n') + '\n');
      return exitOk;
    });
  },
};

export const entityCommands: Command[] = [register, update, show];
