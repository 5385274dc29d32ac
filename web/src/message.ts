// Messages (src/message.rs, src/crypto/seal.rs): the inner message, the padded frame,
// sign-then-encrypt into one standard age file, and opening with every check `recv` makes.

import { Decrypter, Encrypter, armor } from "age-encryption";

import {
  MSG_DOMAIN,
  WireError,
  b64,
  checkCard,
  fromUtf8,
  isMessageId,
  sign,
  unb64,
  unhex,
  utf8,
  verify,
  type Card,
} from "./wire.ts";


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

