/**
 * Positions in the user's query text. libpg-query reports AST `location`s as UTF-8 byte offsets
 * and error cursors as 0-based character offsets; both are turned into line:column here.
 */
import type { SourcePosition } from '../errors.js';

/** Maps offsets in one query text to {@link SourcePosition}s. */
export class PositionMap {
  private readonly text: string;
  private byteToChar: Int32Array | undefined;

  constructor(text: string) {
    this.text = text;
  }

  /** Position of a 0-based character offset. */
  fromCharOffset(offset: number): SourcePosition {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < clamped; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    // Columns count code points, as an editor does.
    const column = Array.from(this.text.slice(lineStart, clamped)).length + 1;
    return { offset: clamped, line, column };
  }

  /** Position of a UTF-8 byte offset (an AST `location`); undefined for a missing or -1 location. */
  fromByteOffset(location: number | undefined): SourcePosition | undefined {
    if (location === undefined || location < 0) return undefined;
    if (this.byteToChar === undefined) {
      const bytes = Buffer.byteLength(this.text, 'utf8');
      const map = new Int32Array(bytes + 1);
      let byte = 0;
      for (let i = 0; i < this.text.length; i++) {
        const code = this.text.codePointAt(i) ?? 0;
        const width = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
        for (let k = 0; k < width; k++) map[byte + k] = i;
        byte += width;
        if (code >= 0x10000) i++;
      }
      map[bytes] = this.text.length;
      this.byteToChar = map;
    }
    const char = this.byteToChar[Math.min(location, this.byteToChar.length - 1)] ?? this.text.length;
    return this.fromCharOffset(char);
  }
}
