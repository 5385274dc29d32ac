// pigeon's wire format in TypeScript: byte for byte what the Rust side (src/wire.rs,
// src/keys/card.rs) writes and checks: encodings, canonical JSON, keys and fingerprints,
// cards, signed requests. Messages are in message.ts, identity files in keyfiles.ts. No I/O:
// bytes and strings in, bytes and strings out. Crypto from @noble/curves / @noble/hashes.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";

export const CARD_DOMAIN = "pigeon-card-v1\n";
export const MSG_DOMAIN = "pigeon-msg-v1\n";
export const FP_DOMAIN = "pigeon-fp-v1\n";
export const REQUEST_DOMAIN = "pigeon-request-v1";
/** A card is valid this long after it is issued (as the CLI's). */
export const CARD_LIFETIME_SECS = 2 * 365 * 24 * 3600;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export const utf8 = (s: string): Uint8Array => enc.encode(s);
export const fromUtf8 = (b: Uint8Array): string => dec.decode(b);

export function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

export function unhex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error("not lowercase hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function b64(b: Uint8Array): string {
  let s = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < b.length; i += CHUNK) {
    s += String.fromCharCode(...b.subarray(i, i + CHUNK));
  }
  return btoa(s);
}

export function unb64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function randomHex(bytes: number): string {
  return hex(crypto.getRandomValues(new Uint8Array(bytes)));
}

export const nowSecs = (): number => Math.floor(Date.now() / 1000);

/** A new message id as the CLI makes them: 48 bits of Unix ms, then 80 random bits. */
export function newId(): string {
  const ms = Date.now().toString(16).padStart(12, "0").slice(-12);
  return ms + randomHex(10);
}

export const isMessageId = (s: unknown): s is string =>
  typeof s === "string" && /^[0-9a-f]{32}$/.test(s);
export const isMailboxId = (s: unknown): s is string =>
  typeof s === "string" && /^[0-9a-f]{64}$/.test(s);

/** Longest name a card may claim, in characters (`card::MAX_CARD_NAME`). */
export const MAX_CARD_NAME = 64;

// `output::is_unsafe_char`: control characters and bidirectional overrides/isolates/marks.
const UNSAFE = /[\p{Cc}\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;
// Rust's `char::is_whitespace` (Unicode White_Space), spelled out: JavaScript's \s differs.
const WHITE_SPACE = /[\t\n\v\f\r\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/u;
// `card::is_invisible`: default-ignorable code points, which print as nothing.
const INVISIBLE =
  /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}-\u{E0FFF}]/u;

/** Why a card's name is refused, or null when it is fine: `card::check_card_name`, rule
 * for rule (one line, no control, bidi or invisible characters, 1 to 64 characters). */
export function cardNameProblem(name: string): string | null {
  const chars = [...name];
  if (chars.length === 0 || chars.length > MAX_CARD_NAME) {
    return `the name must be 1 to ${MAX_CARD_NAME} characters long (it has ${chars.length})`;
  }
  const c = chars.find((c) => UNSAFE.test(c) || (c !== " " && WHITE_SPACE.test(c)) || INVISIBLE.test(c));
  if (c !== undefined) {
    const hexCode = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `the name contains the character U+${hexCode}, which is not allowed in a name`;
  }
  if (name.startsWith(" ") || name.endsWith(" ")) return "the name starts or ends with a space";
  return null;
}

/** The form names are compared in (`keys::contacts::by_name`, and trackers): `Alice` is
 * the `alice` pinned here, not a second person. */
export const foldName = (name: string): string => name.toLowerCase();

/** A name as `keys::validate_name` accepts it. */
export function validName(name: string): boolean {
  const chars = [...name];
  return (
    chars.length >= 1 &&
    chars.length <= 64 &&
    !/^[.-]/.test(name) &&
    chars.every((c) => /[\p{L}\p{N}._@+-]/u.test(c))
  );
}

// ---------------------------------------------------------------------------------------
// Canonical JSON: keys sorted by their UTF-8 bytes (serde_json's BTreeMap), no white space,
// strings escaped as serde_json escapes them (which is what JSON.stringify does too).
// ---------------------------------------------------------------------------------------

function compareUtf8(a: string, b: string): number {
  const x = utf8(a);
  const y = utf8(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new Error("canonical JSON here carries integers only");
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort(compareUtf8);
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(obj[k])).join(",") + "}";
}

// ---------------------------------------------------------------------------------------
// Keys, fingerprints, mailboxes
// ---------------------------------------------------------------------------------------

export const mailboxId = (mailboxKey: Uint8Array): string => hex(sha256(mailboxKey));

/** 40 hex digits of SHA-256("pigeon-fp-v1\n" || recipient || "\n" || mailbox key). */
export function ageFingerprint(recipient: string, mailboxKey: Uint8Array): string {
  return hex(sha256(concat(utf8(FP_DOMAIN + recipient + "\n"), mailboxKey)).subarray(0, 20));
}

export function sign(seed: Uint8Array, domain: string, msg: Uint8Array): Uint8Array {
  return ed25519.sign(concat(utf8(domain), msg), seed);
}

/** Strict verification, like ed25519-dalek's `verify_strict`. */
export function verify(
  publicKey: Uint8Array,
  domain: string,
  msg: Uint8Array,
  sig: Uint8Array,
): boolean {
  if (sig.length !== 64) return false;
  try {
    return ed25519.verify(sig, concat(utf8(domain), msg), publicKey, { zip215: false });
  } catch {
    return false;
  }
}

export const publicKeyOf = (seed: Uint8Array): Uint8Array => ed25519.getPublicKey(seed);

// ---------------------------------------------------------------------------------------
// Cards
// ---------------------------------------------------------------------------------------

export interface Card {
  type: "card";
  v: number;
  name: string;
  kind: string;
  fingerprint: string;
  age?: string;
  pgp?: string;
  mailbox_key: string;
  mailbox: string;
  relays: string[];
  seq: number;
  issued: number;
  expires?: number;
  sig: string;
  [extra: string]: unknown;
}

/** The bytes a card signature covers: canonical JSON of the card without `sig`. */
export function cardSigningBytes(card: Record<string, unknown>): Uint8Array {
  const { sig: _sig, ...unsigned } = card;
  return utf8(canonicalJson(unsigned));
}

export interface CardFacts {
  name: string;
  recipient: string;
  mailboxSeed: Uint8Array;
  relays: string[];
  seq: number;
  issued: number;
}

/** Builds and signs an age card, fields in the order the CLI writes them. */
export function buildCard(f: CardFacts): Card {
  const key = publicKeyOf(f.mailboxSeed);
  const card: Card = {
    type: "card",
    v: 1,
    name: f.name,
    kind: "age",
    fingerprint: ageFingerprint(f.recipient, key),
    age: f.recipient,
    mailbox_key: hex(key),
    mailbox: mailboxId(key),
    relays: f.relays,
    seq: f.seq,
    issued: f.issued,
    expires: f.issued + CARD_LIFETIME_SECS,
    sig: "",
  };
  card.sig = b64(sign(f.mailboxSeed, CARD_DOMAIN, cardSigningBytes(card)));
  return card;
}

export class WireError extends Error {}

/** What `keys::card::check` checks, for age cards; pgp cards are well-formed but need the CLI. */
export function checkCard(value: unknown, checkExpiry = true): Card {
  const bad = (why: string): never => {
    throw new WireError(`the card does not verify: ${why}`);
  };
  if (!value || typeof value !== "object" || Array.isArray(value)) bad("not a JSON object");
  const c = value as Card;
  for (const f of ["name", "kind", "fingerprint", "mailbox_key", "mailbox", "sig"] as const) {
    if (typeof c[f] !== "string") bad(`field ${f} is missing`);
  }
  const strings = (x: unknown) => Array.isArray(x) && x.every((r) => typeof r === "string");
  if (!strings(c.relays)) bad("field relays is missing");
  if (c.draining !== undefined && !strings(c.draining)) bad("field draining is not a list of relays");
  const uint = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!uint(c.seq) || !uint(c.issued)) bad("bad seq or issued");
  if (c.expires !== undefined && c.expires !== null && !uint(c.expires)) bad("bad expires");
  if ((c.type ?? "card") !== "card") bad(`type is ${JSON.stringify(c.type)}, not "card"`);
  // A later version may mean its fields differently: read as v1, it could be misread.
  const v = c.v === undefined ? 1 : c.v;
  if (v !== 1) bad(`card version ${JSON.stringify(v)} is not supported (this page reads version 1)`);
  const nameProblem = cardNameProblem(c.name);
  if (nameProblem) bad(nameProblem);
  if (c.kind === "pgp") {
    throw new WireError(
      `${c.name} uses an OpenPGP key: the web client speaks age only; use the pigeon CLI for them`,
    );
  }
  if (c.kind !== "age") bad(`unknown kind ${JSON.stringify(c.kind)}`);
  if (typeof c.age !== "string" || (c.pgp !== undefined && c.pgp !== null)) {
    bad("an age identity needs an age recipient and no OpenPGP certificate");
  }
  if (!/^age1[02-9ac-hj-np-z]{58}$/.test(c.age!)) bad("the age recipient is malformed");
  if (!/^[0-9a-f]{64}$/.test(c.mailbox_key)) bad("mailbox_key is not 64 hex digits");
  const key = unhex(c.mailbox_key);
  if (ageFingerprint(c.age!, key) !== c.fingerprint) {
    bad("the fingerprint does not match the card's keys");
  }
  if (mailboxId(key) !== c.mailbox) bad("the mailbox id does not match the mailbox key");
  let sig: Uint8Array;
  try {
    sig = unb64(c.sig);
  } catch {
    return bad("the signature is not base64");
  }
  if (!verify(key, CARD_DOMAIN, cardSigningBytes(c), sig)) bad("bad signature");
  if (checkExpiry && typeof c.expires === "number" && c.expires < nowSecs()) {
    bad("the card expired (ask its owner for a fresh card)");
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Signed mailbox requests (wire::request_signing_bytes / sign_request)
// ---------------------------------------------------------------------------------------

export function requestSigningBytes(
  method: string,
  host: string,
  path: string,
  query: string,
  time: number,
  nonce: string,
): Uint8Array {
  return utf8(`${REQUEST_DOMAIN}\n${method}\n${host}\n${path}\n${query}\n${time}\n${nonce}`);
}

/** The four x-pigeon-* headers for a read or delete of my mailbox. */
export function signRequest(
  seed: Uint8Array,
  method: string,
  host: string,
  path: string,
  query: string,
  time: number,
  nonce: string = randomHex(16),
): Record<string, string> {
  const sig = ed25519.sign(requestSigningBytes(method, host, path, query, time, nonce), seed);
  return {
    "x-pigeon-key": hex(publicKeyOf(seed)),
    "x-pigeon-time": String(time),
    "x-pigeon-nonce": nonce,
    "x-pigeon-sig": b64(sig),
  };
}
