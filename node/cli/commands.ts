import type { Command } from './command.js';
import { certCommands } from './cert.js';
import { cryptoCommands } from './crypto.js';
import { demoCommands } from './demo.js';
import { entityCommands } from './entity.js';
import { keygenCommands } from './keygen.js';
import { runCommands } from './run.js';
import { sanctionCommands } from './sanction.js';
import { statusCommands } from './status.js';
import { usccCommands } from './uscc.js';

/** Every CLI command; main.ts dispatches on the longest matching path. */
export const commands: Command[] = [
  ...keygenCommands,
  ...cryptoCommands,
  ...certCommands,
  ...usccCommands,
  ...runCommands,
  ...demoCommands,
  ...entityCommands,
  ...sanctionCommands,
  ...statusCommands,
];
