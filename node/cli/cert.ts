import type { Command } from './command.js';

export const certCommands: Command[] = [];
