// FNV-1a 64-bit, computed on two uint32 halves (no BigInt, no allocation);
// byte-wise for strings (standard), word-wise for numbers (faster, see mixUint32).
// Used for the simulation trace and for turning string seeds into PRNG state.
// Deterministic across runs and machines (numbers are mixed as their
// little-endian IEEE-754 bytes, the layout of every platform Node runs on).

const offsetHi = 0xcbf29ce4;
const offsetLo = 0x84222325;

const float64 = new Float64Array(1);
const float64Words = new Uint32Array(float64.buffer);

export class Fnv1a64 {
  private hi = offsetHi;
  private lo = offsetLo;

  /** Mixes the low 8 bits of `byte`. */
  mixByte(byte: number): void {
    const lo = (this.lo ^ (byte & 0xff)) >>> 0;
    const hi = this.hi;
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64
    const loProduct = lo * 0x1b3; // < 2^41, exact in a double
    const carry = Math.floor(loProduct / 0x1_0000_0000);
    this.lo = loProduct >>> 0;
    this.hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
  }

  /**
   * Mixes a whole uint32 in one FNV-1a step (xor the word, multiply by the prime):
   * 4x cheaper than 4 bytes, still a bijection per step. Not the byte-wise
   * standard; use mixByte for that.
   */
  mixUint32(word: number): void {
    const lo = (this.lo ^ word) >>> 0;
    const hi = this.hi;
    const loProduct = lo * 0x1b3;
    const carry = Math.floor(loProduct / 0x1_0000_0000);
    this.lo = loProduct >>> 0;
    this.hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
  }

  /** Mixes any number as its 8 IEEE-754 bytes (so 1 and 1.5 differ, -0 and 0 differ). */
  mixNumber(value: number): void {
    float64[0] = value;
    this.mixUint32(float64Words[0]!);
    this.mixUint32(float64Words[1]!);
  }

  /** Mixes the length, then each UTF-16 code unit as 2 bytes: "ab","c" differs from "a","bc". */
  mixString(text: string): void {
    this.mixUint32(text.length);
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      this.mixByte(unit);
      this.mixByte(unit >>> 8);
    }
  }

  get high32(): number {
    return this.hi;
  }

  get low32(): number {
    return this.lo;
  }

  /** 16 lowercase hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

const utf8 = new TextEncoder();

/** Standard FNV-1a 64 of the UTF-8 bytes of `text`, as hex ("" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c). */
export function fnv1a64Hex(text: string): string {
  const hash = new Fnv1a64();
  for (const byte of utf8.encode(text)) hash.mixByte(byte);
  return hash.hex();
}
