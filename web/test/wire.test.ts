// The wire code against golden vectors made by the real CLI (tests/integration/web.rs writes
// them with PIGEON_UPDATE_VECTORS=1): the same card, inner message, signature, padding and
// age file decoded and rebuilt byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Decrypter } from "age-encryption";

import * as wire from "../src/wire.ts";
import * as m from "../src/message.ts";
import * as kf from "../src/keyfiles.ts";

const w = { ...wire, ...m, ...kf };

const dir = new URL("../test/vectors/", import.meta.url);
const read = (p: string) => readFileSync(new URL(p, dir));
const text = (p: string) => read(p).toString("utf8");
const fixed = JSON.parse(text("vectors.json"));

const file = (name: string, f: string): string => fixed.identities[name][f];

function identity(name: string) {
  return {
    meta: JSON.parse(file(name, "identity.json")),
    ageKey: w.parseAgeKeyFile(file(name, "age.key")),
    seed: w.parseMailboxKeyFile(file(name, "mailbox.key")),
  };
}

test("cards from the CLI verify, and re-signing one gives the CLI's bytes", () => {
  const alice = identity("alice");
  const cardText = fixed.cards.alice.trim();
  const card = w.checkCard(JSON.parse(cardText));
  assert.equal(card.name, "alice");
  assert.equal(card.fingerprint, alice.meta.fingerprint);
  assert.equal(card.mailbox, alice.meta.mailbox);
  assert.equal(w.mailboxId(w.publicKeyOf(alice.seed)), alice.meta.mailbox);
  // Ed25519 is deterministic: the same facts give the same card, signature included.
  const rebuilt = w.buildCard({
    name: card.name,
    recipient: card.age!,
    mailboxSeed: alice.seed,
    relays: card.relays,
    seq: card.seq,
    issued: card.issued,
  });
  assert.equal(JSON.stringify(rebuilt), cardText);
  // Any change breaks it, unknown fields included (they are signed too).
  assert.throws(() => w.checkCard({ ...card, name: "mallory" }), /bad signature/);
  assert.throws(() => w.checkCard({ ...card, extra: 1 }), /bad signature/);
  assert.throws(() => w.checkCard({ ...card, kind: "pgp" }), /CLI/);
});

test("alice's sealed message opens, verifies and rebuilds to the same frame", async () => {
  const bob = identity("bob");
  const ct = read("alice-to-bob.age");
  const opener = new m.Opener(bob.ageKey, bob.meta.fingerprint);
  const { inner, card } = await opener.open(ct);
  assert.equal(inner.body, fixed.body);
  assert.equal(inner.kind, "text");
  assert.equal(card.name, "alice");
  assert.deepEqual(inner.to, [bob.meta.fingerprint]);

  // The same inner bytes, card and signature give exactly the plaintext the CLI sealed.
  const d = new Decrypter();
  d.addIdentity(bob.ageKey);
  const plaintext = await d.decrypt(ct);
  assert.equal(plaintext.length, 1024, "the card alone is over 512 bytes");
  const frame = w.parseFrame(plaintext)!;
  assert.deepEqual(w.innerBytes(JSON.parse(w.fromUtf8(frame.inner))), frame.inner);
  const alice = identity("alice");
  const sig = w.sign(alice.seed, w.MSG_DOMAIN, frame.inner);
  assert.deepEqual(sig, frame.sig);
  assert.deepEqual(w.buildFrame(frame.inner, w.utf8(frame.card), sig), plaintext);

  // Not for me, or tampered: refused.
  const carolFp = JSON.parse(file("carol", "identity.json")).fingerprint;
  await assert.rejects(new m.Opener(bob.ageKey, carolFp).open(ct), /someone else/);
  const bad = new Uint8Array(ct);
  bad[bad.length - 3] ^= 1;
  await assert.rejects(opener.open(bad), /cannot decrypt/);
});

test("a message sealed here opens like the CLI's: both ways", async () => {
  const alice = identity("alice");
  const bob = identity("bob");
  const card = fixed.cards.bob.trim();
  const inner: m.Inner = {
    v: 1,
    id: w.newId(),
    from: bob.meta.fingerprint,
    to: [alice.meta.fingerprint],
    ts: w.nowSecs(),
    kind: "file",
    body: "see <b>this</b>",
    files: [{ name: "a.bin", media_type: "application/octet-stream", size: 3, data: "AAEC" }],
  };
  const alicePub = JSON.parse(fixed.cards.alice).age;
  const ct = await w.seal(bob.seed, card, [alicePub], inner);
  const got = await new m.Opener(alice.ageKey, alice.meta.fingerprint).open(ct);
  assert.deepEqual(got.inner, inner);
  assert.equal(got.card.name, "bob");
});

test("frames are padded to the CLI's buckets", () => {
  assert.equal(w.bucket(0), 512);
  assert.equal(w.bucket(513), 1024);
  assert.equal(w.bucket(70_000), 131_072);
  assert.equal(w.bucket((1 << 20) + 1), 2 << 20);
  for (const n of [0, 400, 600, 5000]) {
    const f = w.buildFrame(w.utf8('{"v":1}'), w.utf8("x".repeat(n)), new Uint8Array(64));
    assert.equal(f.length, w.bucket(f.length));
  }
});

test("signed request headers match the CLI's signature byte for byte", () => {
  const r = fixed.request;
  const alice = identity("alice");
  const h = w.signRequest(
    alice.seed,
    r.method,
    r.host,
    r.path,
    r.query,
    r.time,
    r.headers["x-pigeon-nonce"],
  );
  assert.deepEqual(h, r.headers);
  assert.notEqual(w.signRequest(alice.seed, "GET", "h", "/p", "", 1)["x-pigeon-nonce"], h["x-pigeon-nonce"]);
});

test("canonical JSON sorts keys by UTF-8 bytes and escapes like serde_json", () => {
  assert.equal(w.canonicalJson({ b: 1, a: [2, { d: "\n\u0001é", c: null }] }),
    '{"a":[2,{"c":null,"d":"\\n\\u0001é"}],"b":1}');
  assert.equal(w.canonicalJson({ "\uffff": 1, "\u{10000}": 2 }), '{"\uffff":1,"\u{10000}":2}');
});

test("a passphrase-protected CLI identity unlocks, and protect() round-trips", async () => {
  const carol = JSON.parse(file("carol", "identity.json"));
  assert.equal(carol.protected, true);
  const ageFile = file("carol", "age.key");
  assert.ok(w.isProtected(ageFile));
  const key = w.parseAgeKeyFile(await w.unprotect(ageFile, fixed.passphrase));
  assert.ok(key.startsWith("AGE-SECRET-KEY-1"));
  await assert.rejects(w.unprotect(ageFile, "wrong"), /wrong passphrase/);
  const seed = w.parseMailboxKeyFile(await w.unprotect(file("carol", "mailbox.key"), fixed.passphrase));
  assert.equal(w.mailboxId(w.publicKeyOf(seed)), carol.mailbox);
  const p = await w.protect("secret\n", "pw", 10);
  assert.equal(await w.unprotect(p, "pw"), "secret\n");
});
