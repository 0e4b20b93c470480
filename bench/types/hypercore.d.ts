// Minimal typing of the hypercore API the comparison benchmark uses.
declare module 'hypercore' {
  import type { Duplex } from 'node:stream';
  interface Download {
    done(): Promise<void>;
  }
  export default class Hypercore {
    constructor(storage: string, key?: Buffer);
    readonly key: Buffer;
    readonly length: number;
    ready(): Promise<void>;
    append(blocks: Buffer | Buffer[]): Promise<{ length: number }>;
    replicate(isInitiator: boolean): Duplex;
    download(range: { start: number; end: number }): Download;
    close(): Promise<void>;
  }
}
