// Seals a message the way the page does, for `pigeon open` to check (tests/integration/web.rs):
// from the vectors' bob to alice, with a body and one attachment.
//   node .test-build/seal-cli.mjs OUT BODY
import { readFileSync, writeFileSync } from "node:fs";

import * as w from "../src/wire.ts";
import * as m from "../src/message.ts";
import * as kf from "../src/keyfiles.ts";

const [out, body] = process.argv.slice(2);
const fixed = JSON.parse(readFileSync(new URL("../test/vectors/vectors.json", import.meta.url), "utf8"));
const bob = fixed.identities.bob;
const seed = kf.parseMailboxKeyFile(bob["mailbox.key"]);
const alice = JSON.parse(fixed.cards.alice);
const inner: m.Inner = {
  v: 1,
  id: w.newId(),
  from: JSON.parse(bob["identity.json"]).fingerprint,
  to: [alice.fingerprint],
  ts: w.nowSecs(),
  kind: "file",
  body,
  files: [{ name: "from-web.bin", media_type: "application/octet-stream", size: 4, data: w.b64(new Uint8Array([0, 1, 254, 255])) }],
};
writeFileSync(out, await m.seal(seed, fixed.cards.bob, [alice.age], inner));
