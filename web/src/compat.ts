// Plain http:// from another machine (http://pi.local:7447/) is not a "secure context":
// browsers then hide crypto.subtle (getRandomValues stays). age-encryption uses WebCrypto's
// X25519 when it can and falls back to @noble/curves only on some errors, not on a missing
// crypto.subtle, so it is told to use noble from the start. The module is the very one the
// bundle's age-encryption imports (esbuild keys modules by path), so the switch applies.
import { forceWebCryptoOff } from "../node_modules/age-encryption/dist/x25519.js";

export const secureContext = Boolean(globalThis.crypto?.subtle);
if (!secureContext) forceWebCryptoOff(true);
