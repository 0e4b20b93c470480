import type { Command } from './command.js';

export const keygenCommands: Command[] = [];
