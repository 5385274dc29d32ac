// The identity files the CLI keeps in $PIGEON_HOME/identity/ (keys::identity,
// crypto::age_kind): age.key as age-keygen writes it, mailbox.key as a hex Ed25519 seed,
// either one wrapped in an ASCII-armored age scrypt file when protected.

import { Decrypter, Encrypter, armor } from "age-encryption";

import { WireError, fromUtf8, hex, unhex, utf8 } from "./wire.ts";

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";


/** The first AGE-SECRET-KEY-1 line of an age.key, checked against its `# public key`. */
export function parseAgeKeyFile(text: string): string {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!line) throw new WireError("age.key holds no AGE-SECRET-KEY-1… line");
  return line;
}

export function parseMailboxKeyFile(text: string): Uint8Array {
  const t = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(t)) {
    throw new WireError("mailbox.key must hold 64 hex digits (an Ed25519 seed)");
  }
  return unhex(t.toLowerCase());
}

export function ageKeyFile(secretKey: string, recipient: string, created: number): string {
  const when = new Date(created * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  return `# created: ${when}\n# public key: ${recipient}\n${secretKey}\n`;
}

export const mailboxKeyFile = (seed: Uint8Array): string => hex(seed) + "\n";

/** An ASCII-armored age scrypt file (what `crypto::protect` writes, `age -d` opens). */
export async function protect(secret: string, passphrase: string, logN = 18): Promise<string> {
  if (!passphrase) throw new WireError("choose a passphrase");
  const e = new Encrypter();
  e.setPassphrase(passphrase);
  e.setScryptWorkFactor(logN);
  return armor.encode(await e.encrypt(utf8(secret)));
}

export const isProtected = (text: string): boolean => text.trimStart().startsWith(ARMOR_BEGIN);

export async function unprotect(text: string, passphrase: string): Promise<string> {
  const d = new Decrypter();
  d.addPassphrase(passphrase);
  try {
    return fromUtf8(await d.decrypt(armor.decode(text.trim() + "\n")));
  } catch {
    throw new WireError("wrong passphrase (or a damaged key file)");
  }
}
