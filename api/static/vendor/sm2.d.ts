// Types of the vendored sm-crypto SM2 bundle (web/build.mjs writes sm2.js), for
// `tsc --checkJs -p web/` only.
declare const sm2: {
  doVerifySignature(msg: string | number[] | Uint8Array, signHex: string, publicKey: string,
                    options?: { der?: boolean; hash?: boolean; userId?: string }): boolean;
  [name: string]: any;
};
export default sm2;
