// pigeon's wire format in TypeScript: byte for byte what the Rust side (src/wire.rs,
// src/keys/card.rs, src/crypto/seal.rs, src/message.rs) writes and checks. No I/O here:
// bytes and strings in, bytes and strings out. Crypto comes from age-encryption and
// @noble/curves / @noble/hashes; nothing is hand-rolled.

import { Decrypter, Encrypter, armor } from "age-encryption";
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
  if (!Array.isArray(c.relays) || !c.relays.every((r) => typeof r === "string")) {
    bad("field relays is missing");
  }
  if (!Number.isSafeInteger(c.seq) || !Number.isSafeInteger(c.issued)) bad("bad seq or issued");
  if ((c.type ?? "card") !== "card") bad(`type is ${JSON.stringify(c.type)}, not "card"`);
  if (c.kind === "pgp") {
    throw new WireError(
      `${c.name} uses an OpenPGP key: the web client speaks age only; use the pigeon CLI for them`,
    );
  }
  if (c.kind !== "age") bad(`unknown kind ${JSON.stringify(c.kind)}`);
  if (typeof c.age !== "string" || c.pgp !== undefined) {
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
// Messages: inner message, frame, padding, seal and open
// ---------------------------------------------------------------------------------------

export interface Attachment {
  name: string;
  media_type: string;
  size: number;
  data: string;
}

export interface Inner {
  v: number;
  id: string;
  from: string;
  to: string[];
  group?: string;
  ts: number;
  kind: string;
  body: string;
  files?: Attachment[];
  reply_to?: string;
}

/** The inner message's bytes, fields in `wire::Inner`'s order (what gets signed). */
export function innerBytes(m: Inner): Uint8Array {
  const ordered: Record<string, unknown> = {
    v: m.v,
    id: m.id,
    from: m.from,
    to: m.to,
    group: m.group,
    ts: m.ts,
    kind: m.kind,
    body: m.body,
    files: m.files && m.files.length > 0 ? m.files : undefined,
    reply_to: m.reply_to,
  };
  return utf8(JSON.stringify(ordered));
}

const MIB = 1 << 20;

/** The padded frame size: next power of two (min 512), above 1 MiB the next MiB. */
export function bucket(len: number): number {
  if (len <= 512) return 512;
  if (len <= MIB) return 2 ** Math.ceil(Math.log2(len));
  return Math.ceil(len / MIB) * MIB;
}

/** `{"pigeon":1,"msg":…,"card":…,"sig":…,"pad":"   "}`, padded to its bucket. */
export function buildFrame(inner: Uint8Array, card: Uint8Array, sig: Uint8Array): Uint8Array {
  const frame = { pigeon: 1, msg: fromUtf8(inner), card: fromUtf8(card), sig: b64(sig), pad: "" };
  const bare = utf8(JSON.stringify(frame)).length;
  frame.pad = " ".repeat(bucket(bare) - bare);
  return utf8(JSON.stringify(frame));
}

export interface Frame {
  inner: Uint8Array;
  card: string;
  sig: Uint8Array;
}

/** A pigeon frame, or null for plaintext that is not one (as `seal::parse_frame`). */
export function parseFrame(plaintext: Uint8Array): Frame | null {
  if (plaintext[0] !== 0x7b) return null;
  let obj: unknown;
  try {
    obj = JSON.parse(fromUtf8(plaintext));
  } catch {
    return null;
  }
  if (!obj || typeof obj !== "object" || !("pigeon" in obj)) return null;
  const o = obj as Record<string, unknown>;
  if (o.pigeon !== 1) throw new WireError(`unsupported pigeon frame version ${o.pigeon}`);
  for (const f of ["msg", "card", "sig"]) {
    if (typeof o[f] !== "string") throw new WireError(`malformed pigeon frame: ${f} is missing`);
  }
  return { inner: utf8(o.msg as string), card: o.card as string, sig: unb64(o.sig as string) };
}

/** Sign then encrypt: one standard (binary) age file for all `recipients` (`age1…`). */
export async function seal(
  seed: Uint8Array,
  cardJson: string,
  recipients: string[],
  inner: Inner,
): Promise<Uint8Array> {
  const bytes = innerBytes(inner);
  const sig = sign(seed, MSG_DOMAIN, bytes);
  const frame = buildFrame(bytes, utf8(cardJson), sig);
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(frame);
}

export interface Opened {
  inner: Inner;
  card: Card;
}

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

/** The binary age file, whether `data` is binary or ASCII-armored. */
export function dearmor(data: Uint8Array): Uint8Array {
  const head = new TextDecoder().decode(data.subarray(0, 64)).trimStart();
  if (head.startsWith(ARMOR_BEGIN)) return armor.decode(new TextDecoder().decode(data));
  return data;
}

/** Decrypts and checks a ciphertext; every check `message::unseal_with` makes. */
export class Opener {
  private decrypter = new Decrypter();
  private cards = new Map<string, Card>();

  constructor(
    ageSecretKey: string,
    private myFingerprint: string,
  ) {
    this.decrypter.addIdentity(ageSecretKey);
  }

  async open(ciphertext: Uint8Array): Promise<Opened> {
    let plaintext: Uint8Array;
    try {
      plaintext = await this.decrypter.decrypt(dearmor(ciphertext));
    } catch (e) {
      throw new WireError(`cannot decrypt: not for this identity, or damaged (${e})`);
    }
    const frame = parseFrame(plaintext);
    if (!frame) throw new WireError("not a pigeon message (an unsigned age file)");
    let card = this.cards.get(frame.card);
    if (!card) {
      let value: unknown;
      try {
        value = JSON.parse(frame.card);
      } catch {
        throw new WireError("the sender's card is malformed");
      }
      card = checkCard(value);
      if (this.cards.size >= 1024) this.cards.clear();
      this.cards.set(frame.card, card);
    }
    if (!verify(unhex(card.mailbox_key), MSG_DOMAIN, frame.inner, frame.sig)) {
      throw new WireError("bad message signature");
    }
    let inner: Inner;
    try {
      inner = JSON.parse(fromUtf8(frame.inner));
    } catch {
      throw new WireError("the signed message is malformed");
    }
    if (
      typeof inner !== "object" ||
      !inner ||
      typeof inner.from !== "string" ||
      !Array.isArray(inner.to) ||
      typeof inner.kind !== "string" ||
      !Number.isSafeInteger(inner.ts)
    ) {
      throw new WireError("the signed message is malformed");
    }
    inner.body = typeof inner.body === "string" ? inner.body : "";
    if (inner.from !== card.fingerprint) {
      throw new WireError("the message was signed by someone else than its sender");
    }
    if (!inner.to.includes(this.myFingerprint)) {
      throw new WireError("the message is addressed to someone else (it was forwarded to you)");
    }
    if (!isMessageId(inner.id)) throw new WireError("the message id is malformed");
    return { inner, card };
  }
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

// ---------------------------------------------------------------------------------------
// Identity files (keys::identity, crypto::age_kind): what the CLI reads and writes
// ---------------------------------------------------------------------------------------

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
