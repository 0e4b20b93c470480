import type { Command } from './command.js';
import { certCommands } from './cert.js';
import { cryptoCommands } from './crypto.js';
import { keygenCommands } from './keygen.js';
import { usccCommands } from './uscc.js';

/** Every CLI command; main.ts dispatches on the longest matching path. */
export const commands: Command[] = [...keygenCommands, ...cryptoCommands, ...certCommands, ...usccCommands];
