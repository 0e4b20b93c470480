import type { Command } from './command.js';

export const cryptoCommands: Command[] = [];
