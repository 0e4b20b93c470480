import type { Command } from './command.js';
import { accessCommands } from './access.js';
import { allianceCommands } from './alliance.js';
import { caCommands } from './ca.js';
import { backupCommands } from './backup.js';
import { certCommands } from './cert.js';
import { creditCommands } from './credit.js';
import { cryptoCommands } from './crypto.js';
import { demoCommands } from './demo.js';
import { entityCommands } from './entity.js';
import { evidenceCommands } from './evidence.js';
import { evaluationCommands, expertCommands } from './expert.js';
import { keygenCommands } from './keygen.js';
import { restoreCommands } from './restore.js';
import { runCommands } from './run.js';
import { sanctionCommands } from './sanction.js';
import { statusCommands } from './status.js';
import { transferCommands } from './transfer.js';
import { usccCommands } from './uscc.js';

/** Every CLI command; main.ts dispatches on the longest matching path. */
export const commands: Command[] = [
  ...keygenCommands,
  ...allianceCommands,
  ...cryptoCommands,
  ...certCommands,
  ...caCommands,
  ...usccCommands,
  ...runCommands,
  ...demoCommands,
  ...entityCommands,
  ...sanctionCommands,
  ...evidenceCommands,
  ...transferCommands,
  ...expertCommands,
  ...evaluationCommands,
  ...statusCommands,
  ...backupCommands,
  ...restoreCommands,
  ...accessCommands,
  ...creditCommands,
];
