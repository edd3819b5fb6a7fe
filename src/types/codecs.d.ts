// Minimal typings for the pure-JS codec packages (they ship none).
declare module "lz4js" {
  export function compress(src: Uint8Array, maxSize?: number): Array<number> | Uint8Array
  export function decompress(src: Uint8Array, maxSize?: number): Array<number> | Uint8Array
  /** Decodes one LZ4 block of src[sIndex, sIndex + sLength) into dst at dIndex; returns the new dIndex (writes past dst's end are dropped). */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number
}
declare module "snappyjs" {
  export function compress(src: Uint8Array): Uint8Array
  export function uncompress(src: Uint8Array, maxLength?: number): Uint8Array
}
