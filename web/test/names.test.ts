// The card-name fixtures (tests/fixtures/card-names.json), which the CLI's own test runs
// too (tests/integration/web/names.rs): the page pins, refuses or flags each card as
// `pigeon contact add` does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { ed25519 } from "@noble/curves/ed25519.js";

import * as w from "../src/wire.ts";
import * as inbox from "../src/inbox.ts";
import type { Contact } from "../src/store.ts";

const fixtures = JSON.parse(readFileSync(new URL("../../tests/fixtures/card-names.json", import.meta.url), "utf8"));

async function someone(name: string) {
  const seed = ed25519.utils.randomSecretKey();
  const recipient = await identityToRecipient(await generateX25519Identity());
  const card = w.buildCard({ name, recipient, mailboxSeed: seed, relays: ["http://127.0.0.1:1"], seq: 1, issued: w.nowSecs() });
  return { seed, card };
}

function verdict(value: unknown, contacts: Contact[]): string {
  try {
    inbox.planPin(value, contacts, "0".repeat(40));
    return "added";
  } catch (e) {
    if (e instanceof inbox.KeyChangeError) return "key-change";
    if (e instanceof inbox.NameError) return "bad-name";
    if (e instanceof w.WireError && /does not verify/.test(e.message)) return "bad-card";
    throw e;
  }
}

test("card names and fields get the CLI's verdicts (shared fixtures)", async () => {
  const pinned = await someone(fixtures.pinned);
  const contacts: Contact[] = [{ name: pinned.card.name, fingerprint: pinned.card.fingerprint, card: pinned.card, added: 1 }];
  const other = await someone("carol");
  const cases = [
    ...fixtures.names.map((c: { name: string }) => ({ ...c, set: { name: c.name }, unset: [] })),
    ...fixtures.cards.map((c: { name: string; set: object }) => ({ ...c, set: { name: c.name, ...c.set } })),
  ];
  assert.ok(cases.length > 40);
  for (const c of cases) {
    const card: Record<string, unknown> = { ...other.card, ...c.set };
    for (const f of c.unset) delete card[f];
    card.sig = w.b64(w.sign(other.seed, w.CARD_DOMAIN, w.cardSigningBytes(card)));
    assert.equal(verdict(card, contacts), c.verdict, `${JSON.stringify(c.set)}: ${c.why}`);
  }
});
