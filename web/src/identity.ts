// My identity in the browser: generated here (X25519 by age-encryption, an Ed25519 mailbox
// key by @noble/curves), kept in IndexedDB only as an age scrypt file under my passphrase,
// and exported or imported as the files the CLI keeps in $PIGEON_HOME/identity/.

import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { ed25519 } from "@noble/curves/ed25519.js";

import * as w from "./wire.ts";
import * as kf from "./keyfiles.ts";
import type { StoredIdentity } from "./store.ts";

/** The scrypt work factor (log2 N): what the CLI's age files use. */
export const SCRYPT_LOG_N = 16;

/** An unlocked identity: what the page holds in memory while it is open. */
export interface Unlocked {
  stored: StoredIdentity;
  ageKey: string;
  seed: Uint8Array;
  card: w.Card;
  cardJson: string;
}

export function unlockedFrom(stored: StoredIdentity, ageKey: string, seed: Uint8Array): Unlocked {
  const card = w.buildCard({
    name: stored.name,
    recipient: stored.recipient,
    mailboxSeed: seed,
    relays: stored.relays,
    seq: stored.seq,
    issued: stored.issued,
  });
  if (card.fingerprint !== stored.fingerprint) {
    throw new w.WireError("the stored keys do not match the stored identity");
  }
  return { stored, ageKey, seed, card, cardJson: JSON.stringify(card) };
}

async function seal(ageKey: string, seed: Uint8Array, passphrase: string): Promise<string> {
  const secrets = JSON.stringify({ age: ageKey, mailbox: w.hex(seed) });
  return kf.protect(secrets, passphrase, SCRYPT_LOG_N);
}

/** A new age identity named `name` whose card lists `relay`. */
export async function create(name: string, passphrase: string, relay: string) {
  if (!w.validName(name)) {
    throw new w.WireError("use 1 to 64 letters, digits and . _ - @ + (not starting with . or -)");
  }
  if (passphrase.length < 8) throw new w.WireError("choose a passphrase of 8 characters or more");
  const ageKey = await generateX25519Identity();
  const recipient = await identityToRecipient(ageKey);
  const seed = ed25519.utils.randomSecretKey();
  const now = w.nowSecs();
  const key = w.publicKeyOf(seed);
  const stored: StoredIdentity = {
    name,
    fingerprint: w.ageFingerprint(recipient, key),
    mailbox: w.mailboxId(key),
    recipient,
    relays: [relay],
    seq: 1,
    issued: now,
    created: now,
    secrets: await seal(ageKey, seed, passphrase),
  };
  return unlockedFrom(stored, ageKey, seed);
}

/** Unlocks the stored keys. Past half its lifetime the card is re-issued (a higher seq, a
 * new issue time), as `Identity::refresh_card` does, so the card in every message stays
 * valid; `renewed` says the stored identity changed and must be saved. */
export async function unlock(
  stored: StoredIdentity,
  passphrase: string,
): Promise<Unlocked & { renewed: boolean }> {
  const s = JSON.parse(await kf.unprotect(stored.secrets, passphrase));
  const now = w.nowSecs();
  const renewed = stored.issued + w.CARD_LIFETIME_SECS / 2 < now;
  const next = renewed ? { ...stored, seq: stored.seq + 1, issued: now } : stored;
  return { ...unlockedFrom(next, s.age, w.unhex(s.mailbox)), renewed };
}

/** The files of `$PIGEON_HOME/identity/`, secret ones protected by `passphrase`. */
export async function exportFiles(u: Unlocked, passphrase: string) {
  const { stored } = u;
  const meta = {
    v: 1,
    kind: "age",
    name: stored.name,
    fingerprint: stored.fingerprint,
    mailbox: stored.mailbox,
    relays: stored.relays,
    seq: stored.seq,
    issued: stored.issued,
    created: stored.created,
    protected: true,
  };
  const ageFile = kf.ageKeyFile(u.ageKey, stored.recipient, stored.created);
  return [
    { name: "identity.json", text: JSON.stringify(meta, null, 2) + "\n" },
    { name: "age.key", text: await kf.protect(ageFile, passphrase, SCRYPT_LOG_N) },
    {
      name: "mailbox.key",
      text: await kf.protect(kf.mailboxKeyFile(u.seed), passphrase, SCRYPT_LOG_N),
    },
  ];
}

/** Imports a CLI identity from its three files (protected or not) and keeps it under
 * `passphrase` (which also unlocks protected files). The card keeps the CLI's relays and
 * gains this one, with a higher seq, so contacts take the new card. */
export async function importFiles(
  files: Map<string, string>,
  passphrase: string,
  relay: string,
): Promise<Unlocked> {
  const need = (n: string) => {
    const t = files.get(n);
    if (t === undefined) throw new w.WireError(`choose the CLI's ${n} too (from $PIGEON_HOME/identity/)`);
    return t;
  };
  const meta = JSON.parse(need("identity.json"));
  if (meta.kind !== "age") {
    throw new w.WireError("this is an OpenPGP identity: the web client handles age identities only");
  }
  const plain = async (n: string) => {
    const t = need(n);
    return kf.isProtected(t) ? kf.unprotect(t, passphrase) : t;
  };
  const ageKey = kf.parseAgeKeyFile(await plain("age.key"));
  const seed = kf.parseMailboxKeyFile(await plain("mailbox.key"));
  const recipient = await identityToRecipient(ageKey);
  const relays: string[] = Array.isArray(meta.relays) ? meta.relays : [];
  const now = w.nowSecs();
  const stored: StoredIdentity = {
    name: meta.name,
    fingerprint: meta.fingerprint,
    mailbox: meta.mailbox,
    recipient,
    relays: relays.includes(relay) ? relays : [...relays, relay],
    seq: relays.includes(relay) ? meta.seq : meta.seq + 1,
    issued: relays.includes(relay) ? meta.issued : Math.max(now, meta.issued),
    created: meta.created ?? now,
    secrets: await seal(ageKey, seed, passphrase),
  };
  return unlockedFrom(stored, ageKey, seed);
}
