// Globals the pages use that the DOM library does not declare (tsc --checkJs -p web/).
interface Window {
  /** jsQR, loaded as a classic script before the scanner's module (vendor/jsQR.js). */
  jsQR: (data: Uint8ClampedArray, width: number, height: number,
         options?: { inversionAttempts?: string }) => { data: string } | null;
}
interface DataView {
  getFloat16?(byteOffset: number, littleEndian?: boolean): number;
}
