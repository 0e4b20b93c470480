import type { Level } from 'level';
import { assert, TongxingError } from '../../federation/errors.js';

// The store's schema version (meta/schema) and the ordered steps that bring an
// older store up to the version this build writes. Upgrade rule: a node opens
// a store of its own version or older (migrating it forward, one step at a
// time, before anything else reads it) and refuses a newer one, so a
// downgrade never reads a layout it does not understand. docs/OPERATIONS.md.
//
// Contract of a step: it leaves the database at `to` or, if interrupted
// (crash, disk full), at `from` with its work safe to redo; the usual way is
// one atomic batch that carries the new meta/schema with the changes. A step
// too large for one batch must be idempotent and write meta/schema last.

export type StoreDatabase = Level<string, Uint8Array>;

export const schemaKey = 'meta/schema';

/** The version this build writes and reads. */
export const storeSchemaVersion = 1;

export interface Migration {
  readonly from: number;
  /** Always from + 1. */
  readonly to: number;
  /** What the step changes, for the log line an upgrade writes. */
  readonly description: string;
  run(db: StoreDatabase, directory: string): Promise<void>;
}

/** The directory holds no Tongxing store this build can read: it was left untouched. */
export class StoreSchemaError extends TongxingError {
  override name = 'StoreSchemaError';
  constructor(
    readonly directory: string,
    /** The version found under meta/schema; undefined for a non-empty database that is not a Tongxing store. */
    readonly versionFound: string | undefined,
    /** The newest version this build reads (and writes). */
    readonly versionSupported: number = storeSchemaVersion,
  ) {
    super(
      versionFound === undefined
        ? `${directory}: a LevelDB database that is not a Tongxing store (no ${schemaKey}, and keys outside log/, head/ and s/)`
        : /^\d+$/.test(versionFound) && Number(versionFound) > versionSupported
          ? `${directory}: store schema version ${versionFound} is newer than this build reads (version ${versionSupported}): ` +
            'run the tongxing release that wrote it or a later one (a store is never migrated back), or restore a backup into an empty data directory'
          : `${directory}: store schema version ${JSON.stringify(versionFound)} is not one this build knows (it reads versions 0 to ${versionSupported})`,
    );
  }
}

const encode = (version: number): Uint8Array => new TextEncoder().encode(String(version));

/**
 * Version 0 is the layout of version 1 without the meta/schema marker (a
 * store made by a build before the marker, or by copying keys without it).
 * The step checks that every key is a store key, so a foreign database is
 * still refused, then writes the marker. Store keys live under head/, log/
 * and s/ (see level.ts).
 */
const markSchema: Migration = {
  from: 0,
  to: 1,
  description: 'write the schema marker meta/schema (the key layout is unchanged)',
  async run(db, directory) {
    // Keys sorted: [..head/) [head/..log/) [log/..s/) [s/..); only the gaps between prefixes need a look.
    const gaps: Array<{ gte?: string; lt?: string }> = [{ lt: 'head/' }, { gte: 'head0', lt: 'log/' }, { gte: 'log0', lt: 's/' }, { gte: 's0' }];
    for (const gap of gaps) {
      const found = await db.keys({ ...gap, limit: 1 }).all();
      if (found.length > 0) throw new StoreSchemaError(directory, undefined);
    }
    await db.put(schemaKey, encode(1), { sync: true });
  },
};

/** Every step, oldest first; a new layout appends one and raises storeSchemaVersion. */
export const migrations: readonly Migration[] = [markSchema];

export interface OpenSchemaOptions {
  /** Default: `migrations` and `storeSchemaVersion`; tests pass their own. */
  readonly migrations?: readonly Migration[];
  readonly version?: number;
  /** Called before each step runs. */
  readonly onMigrate?: (step: Migration) => void;
}

/**
 * Makes `db` a store of the current version: marks an empty database, runs
 * the steps from the version found, and refuses (StoreSchemaError, nothing
 * written) a newer version, an unknown one, or a database that is not ours.
 * Resolves with the version found (undefined for a new store).
 */
export async function openSchema(db: StoreDatabase, directory: string, options: OpenSchemaOptions = {}): Promise<number | undefined> {
  const steps = options.migrations ?? migrations;
  const target = options.version ?? storeSchemaVersion;
  steps.forEach((step, i) => assert(step.to === step.from + 1 && (i === 0 || step.from === steps[i - 1]!.to), `migration ${i} (${step.from} -> ${step.to}) is out of order`));
  assert(steps.length === 0 || steps.at(-1)!.to === target, `migrations end at ${steps.at(-1)?.to}, not at the version ${target}`);

  const stored = await db.get(schemaKey);
  if (stored === undefined && (await db.keys({ limit: 1 }).all()).length === 0) {
    await db.put(schemaKey, encode(target), { sync: true });
    return undefined;
  }
  const text = stored === undefined ? '0' : new TextDecoder().decode(stored);
  const found = /^(0|[1-9]\d{0,8})$/.test(text) ? Number(text) : Number.NaN;
  if (stored === undefined && (steps.length === 0 || steps[0]!.from !== 0)) throw new StoreSchemaError(directory, undefined, target);
  if (!(found <= target) || (found < target && !steps.some((s) => s.from === found))) {
    throw new StoreSchemaError(directory, stored === undefined ? undefined : text, target);
  }
  for (const step of steps.filter((s) => s.from >= found)) {
    options.onMigrate?.(step);
    await step.run(db, directory);
    const now = await db.get(schemaKey);
    assert(now !== undefined && new TextDecoder().decode(now) === String(step.to), `migration ${step.from} -> ${step.to} did not write meta/schema ${step.to}`);
  }
  return found;
}
