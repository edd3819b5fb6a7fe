// Minimal typings for the pure-JS codec packages (they ship none).
declare module "lz4js" {
  export function compress(src: Uint8Array, maxSize?: number): Array<number> | Uint8Array
  export function decompress(src: Uint8Array, maxSize?: number): Array<number> | Uint8Array
}
declare module "snappyjs" {
  export function compress(src: Uint8Array): Uint8Array
  export function uncompress(src: Uint8Array, maxLength?: number): Uint8Array
}
