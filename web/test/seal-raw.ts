// For the browser tests (test/hostile.mjs): seals an arbitrary inner message, signed with a
// CLI user's own mailbox key, as a sender that means harm (or has a bug) would: the inner
// JSON is signed exactly as given, so every check the page makes is on a validly signed
// message. Then posts it to a mailbox through the relay's /v1/batch.
import { Encrypter } from "age-encryption";

import * as w from "../src/wire.ts";
import * as m from "../src/message.ts";
import * as kf from "../src/keyfiles.ts";

/** `inner` (any JSON) signed with `mailboxKeyText` (a CLI's identity/mailbox.key) and
 * `cardJson` in its frame, encrypted to the age card `to`, posted to `relayUrl`. */
export async function sealAndPost(relayUrl: string, mailboxKeyText: string, cardJson: string, to: w.Card, inner: unknown) {
  const seed = kf.parseMailboxKeyFile(mailboxKeyText);
  const bytes = w.utf8(JSON.stringify(inner));
  const frame = m.buildFrame(bytes, w.utf8(cardJson), w.sign(seed, w.MSG_DOMAIN, bytes));
  const e = new Encrypter();
  e.addRecipient(to.age!);
  const ct = await e.encrypt(frame);
  const id = (inner as { id?: unknown }).id;
  const resp = await fetch(`${relayUrl}/v1/batch`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ v: 1, items: [{ mailbox: to.mailbox, envelope: { v: 1, id, payload: w.b64(ct) } }] }),
  });
  const reply = await resp.json();
  if (!resp.ok || ![200, 201].includes(reply.results?.[0]?.status)) {
    throw new Error(`the relay did not take it: ${JSON.stringify(reply)}`);
  }
}

export { newId, nowSecs } from "../src/wire.ts";
