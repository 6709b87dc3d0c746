// Types of the vendored qrcode-generator (web/build.mjs writes qrcode.js), for
// `tsc --checkJs -p web/` only: the part of its API the guard page uses.
interface QrCode {
  addData(data: string, mode?: "Numeric" | "Alphanumeric" | "Byte" | "Kanji"): void;
  make(): void;
  getModuleCount(): number;
  isDark(row: number, col: number): boolean;
  createSvgTag(opts?: { cellSize?: number; margin?: number; scalable?: boolean }): string;
}
declare function qrcode(typeNumber: number, errorCorrectionLevel: "L" | "M" | "Q" | "H"): QrCode;
export default qrcode;
