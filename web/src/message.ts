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

/** What opening a ciphertext gave: a message this page shows, or one that only the pigeon
 * CLI can handle (a group message, or one from an OpenPGP sender), which the page must
 * leave on the relay for it. What fails a check is thrown as a [`WireError`] instead. */
export type Opened =
  | { kind: "message"; inner: Inner; card: Card }
  | { kind: "cli"; why: string; card?: Card; inner?: Inner };

/** The newest inner message version the CLI reads (`wire::GROUP_V`). */
export const GROUP_V = 2;
/** Attachments one message may have (as `recv`'s MAX_FILES). */
export const MAX_FILES = 256;

/** Parses and checks an inner message as `recv` does: the fields and types serde's
 * `wire::Inner` accepts (absent `v` is 1, absent `body` "", absent `files` none, but a
 * `null` where a string or list belongs is refused), then `recv`'s own rules (the kind,
 * the attachments decode to the size they claim). Unknown fields are ignored. */
export function checkInner(value: unknown): Inner {
  const bad = (why: string): never => {
    throw new WireError(`the signed message is malformed: ${why}`);
  };
  if (!value || typeof value !== "object" || Array.isArray(value)) bad("not a JSON object");
  const o = value as Record<string, unknown>;
  const str = (f: string) => typeof o[f] === "string" || bad(`${f} is not a string`);
  const optStr = (f: string) => o[f] === undefined || o[f] === null || str(f);
  const uint = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  const v = o.v === undefined ? 1 : o.v;
  if (!uint(v) || (v as number) > 0xffffffff) bad("v is not a version number");
  ["id", "from", "kind"].forEach(str);
  if (!Array.isArray(o.to) || !o.to.every((t) => typeof t === "string")) bad("to is not a list of fingerprints");
  optStr("group");
  optStr("reply_to");
  if (!uint(o.ts)) bad("ts is not a time");
  if (o.body !== undefined) str("body");
  const files = o.files === undefined ? [] : o.files;
  if (!Array.isArray(files)) bad("files is not a list");
  const kind = o.kind as string;
  // As recv: the kind goes into `--exec`'s environment there.
  if (!/^[\x21-\x7e]{1,32}$/.test(kind)) {
    bad(`the message kind ${JSON.stringify([...kind].slice(0, 40).join(""))} is not 1 to 32 printable ASCII characters`);
  }
  if ((files as unknown[]).length > MAX_FILES) bad(`more than ${MAX_FILES} attachments`);
  const checked: Attachment[] = (files as unknown[]).map((f, i) => {
    if (!f || typeof f !== "object" || Array.isArray(f)) return bad(`attachment ${i + 1} is not an object`);
    const a = f as Record<string, unknown>;
    for (const k of ["name", "media_type", "data"]) {
      if (typeof a[k] !== "string") bad(`attachment ${i + 1}: ${k} is not a string`);
    }
    if (!uint(a.size)) bad(`attachment ${i + 1}: size is not a number of bytes`);
    let bytes: Uint8Array;
    try {
      // Standard base64 with its padding, as the CLI's decoder takes it (atob is laxer).
      if (!/^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(a.data as string)) throw 0;
      bytes = unb64(a.data as string);
    } catch {
      return bad(`attachment ${i + 1} is not base64`);
    }
    if (bytes.length !== a.size) bad(`attachment ${i + 1} has ${bytes.length} bytes, not the ${a.size} it claims`);
    return { name: a.name as string, media_type: a.media_type as string, size: a.size as number, data: a.data as string };
  });
  const inner: Inner = {
    v: v as number,
    id: o.id as string,
    from: o.from as string,
    to: o.to as string[],
    ts: o.ts as number,
    kind,
    body: (o.body as string | undefined) ?? "",
    files: checked,
  };
  if (typeof o.group === "string") inner.group = o.group;
  if (typeof o.reply_to === "string") inner.reply_to = o.reply_to;
  return inner;
}

/** A key that appears twice in the inner message or in one of its attachments: serde's
 * derived `wire::Inner` and `Attachment` refuse that, while `JSON.parse` keeps the last one,
 * so the page would show a text the CLI refuses. Objects inside unknown fields are not
 * looked at (serde skips them whole). `text` is JSON that parsed. */
export function duplicateKey(text: string): string | null {
  // One frame per open container: its keys if it is an object we check, else null.
  const stack: { keys: Set<string> | null; array: boolean; under: string }[] = [];
  let expectKey = false;
  let lastKey = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (expectKey) {
        lastKey = JSON.parse(text.slice(i, j + 1));
        const keys = stack[stack.length - 1].keys;
        if (keys?.has(lastKey)) return lastKey;
        keys?.add(lastKey);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      const top = stack[stack.length - 1];
      // Checked: the message itself (depth 0), and each object in its `files` list.
      const checked = c === "{" && (!top || (top.array && top.under === "files" && stack.length === 2));
      stack.push({ keys: checked ? new Set() : null, array: c === "[", under: top && !top.array ? lastKey : "" });
      expectKey = c === "{";
    } else if (c === "}" || c === "]") {
      stack.pop();
      expectKey = false;
    } else if (c === ",") {
      expectKey = stack.length > 0 && !stack[stack.length - 1].array;
    }
  }
  return null;
}

/** Whether the CLI's `message::addressed_to` holds: `to` names me, or it is a version 2
 * group message (which names no one; its group decides, which only the CLI knows). */
function addressedTo(inner: Inner, me: string): boolean {
  const byGroup = inner.v >= GROUP_V && inner.to.length === 0 && inner.group !== undefined && inner.kind !== "membership";
  return byGroup || inner.to.includes(me);
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

  /** Opens what the relay filed as `envelopeId` (when it came from one). Throws a [`WireError`] for what the CLI's
   * `recv` would reject too (nothing of it is to be shown as good). */
  async open(ciphertext: Uint8Array, envelopeId?: string): Promise<Opened> {
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
      // An OpenPGP signature needs an OpenPGP implementation, which the page has not: the
      // CLI checks it. Nothing of the message is shown, not even the name it claims.
      if (value && typeof value === "object" && (value as Record<string, unknown>).kind === "pgp") {
        return { kind: "cli", why: "from an OpenPGP sender" };
      }
      card = checkCard(value);
      if (this.cards.size >= 1024) this.cards.clear();
      this.cards.set(frame.card, card);
    }
    if (!verify(unhex(card.mailbox_key), MSG_DOMAIN, frame.inner, frame.sig)) {
      throw new WireError("bad message signature");
    }
    let value: unknown;
    let text: string;
    try {
      text = fromUtf8(frame.inner);
      value = JSON.parse(text);
    } catch {
      throw new WireError("the signed message is malformed");
    }
    const inner = checkInner(value);
    const twice = duplicateKey(text);
    if (twice !== null) throw new WireError(`the signed message is malformed: the field ${JSON.stringify(twice)} appears twice`);
    if (inner.from !== card.fingerprint) {
      throw new WireError("the message was signed by someone else than its sender");
    }
    if (inner.v > GROUP_V) {
      throw new WireError(`the message is version ${inner.v} (the page reads up to ${GROUP_V}): use the pigeon CLI`);
    }
    if (!addressedTo(inner, this.myFingerprint)) {
      throw new WireError("the message is addressed to someone else (it was forwarded to you)");
    }
    if (!isMessageId(inner.id)) throw new WireError("the message id is malformed");
    if (envelopeId !== undefined && inner.id !== envelopeId) throw new WireError("the envelope id does not match the signed message id");
    // Groups (their members, versions and bans) live in the CLI's store: only it can tell
    // whether a group message or a membership change is to be accepted.
    if (inner.group !== undefined || inner.kind === "membership") {
      return { kind: "cli", why: "a group message", card, inner };
    }
    return { kind: "message", inner, card };
  }
}
