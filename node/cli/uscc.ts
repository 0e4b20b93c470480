import type { Command } from './command.js';

export const usccCommands: Command[] = [];
