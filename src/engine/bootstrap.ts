/**
 * The bootstrap queue: what arrives on the leg that is up before the other one is (an SSH banner, a
 * client typing before the target accepted), held in order up to a bound.
 */
export class BootstrapQueue {
  private items: Buffer[] = [];
  /** Payload bytes held (a frame built ahead counts its payload, not its header). */
  bytes = 0;
  peak = 0;
  /** Which leg filled it (only one leg can be up while anything is held). */
  from: 'target' | 'cloud' | null = null;

  constructor(readonly limit: number) {}

  /** Room left before the bound. */
  get room(): number {
    return Math.max(0, this.limit - this.bytes);
  }

  /** Holds `buf` (carrying `payload` bytes); returns true when the producer must pause (the bound is reached). */
  push(buf: Buffer, payload: number, from: 'target' | 'cloud'): boolean {
    this.from ??= from;
    this.items.push(buf);
    this.bytes += payload;
    if (this.bytes > this.peak) this.peak = this.bytes;
    return this.bytes >= this.limit;
  }

  /** Hands everything out in order and empties the queue. */
  drain(): Buffer[] {
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    return items;
  }

  clear(): void {
    this.items = [];
    this.bytes = 0;
  }
}
