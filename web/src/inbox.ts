// What the inbox holds besides messages, and what it must survive: rows stored by an older
// page (or damaged) are repaired or skipped, never allowed to stop an unlock; messages left
// on the relay for the CLI and refused ones become one-line notices. No DOM, no I/O.

import type { Inner } from "./message.ts";
import type { Contact, Message, StoredFile } from "./store.ts";
import { WireError, checkCard, foldName, validName, type Card } from "./wire.ts";

const isStr = (x: unknown): x is string => typeof x === "string";
const isObj = (x: unknown): x is Record<string, unknown> =>
  !!x && typeof x === "object" && !Array.isArray(x);

function attachment(x: unknown): StoredFile | null {
  if (!isObj(x) || !isStr(x.name) || !(isStr(x.data) || isStr(x.ref)) || !Number.isSafeInteger(x.size)) return null;
  const f: StoredFile = { name: x.name, media_type: isStr(x.media_type) ? x.media_type : "application/octet-stream", size: x.size as number };
  if (isStr(x.ref)) f.ref = x.ref;
  else f.data = x.data as string;
  return f;
}

/** A stored message row as the page can show it, repaired where it can be (a missing body,
 * a damaged attachment dropped, the rest kept), or null when too little of it is left. */
export function storedMessage(x: unknown): Message | null {
  if (!isObj(x) || !isStr(x.key) || !isStr(x.id) || (x.dir !== "in" && x.dir !== "out")) return null;
  const m = x as unknown as Message;
  m.peer = isStr(m.peer) ? m.peer : "?";
  m.fingerprint = isStr(m.fingerprint) ? m.fingerprint : "";
  m.ts = Number.isSafeInteger(m.ts) ? m.ts : 0;
  m.kind = isStr(m.kind) ? m.kind : "text";
  m.body = isStr(m.body) ? m.body : "";
  m.files = Array.isArray(m.files) ? m.files.map(attachment).filter((f): f is StoredFile => f !== null) : [];
  if (m.error !== undefined && !isStr(m.error)) m.error = undefined;
  if (m.card !== undefined && !isObj(m.card)) m.card = undefined;
  return m;
}

/** A stored contact with what sending and rendering need, or null. */
export function storedContact(x: unknown): Contact | null {
  if (!isObj(x) || !isStr(x.name) || !isStr(x.fingerprint) || !isObj(x.card)) return null;
  const c = x.card;
  if (!isStr(c.age) || !isStr(c.mailbox) || !Array.isArray(c.relays) || !Number.isSafeInteger(c.seq)) return null;
  return x as unknown as Contact;
}

/** The contact pinned under `name` as the CLI finds it: exactly, else equal but for case. */
export function byName(contacts: Contact[], name: string): Contact | undefined {
  const folded = foldName(name);
  return contacts.find((c) => c.name === name) ?? contacts.find((c) => foldName(c.name) === folded);
}

/** Text from a message shown inside a sentence: one line, no control or bidi characters,
 * at most `max` characters. */
export function oneLine(s: string, max = 64): string {
  const clean = [...s].map((c) => (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(c) ? " " : c)).join("").trim();
  const chars = [...clean];
  return chars.length > max ? chars.slice(0, max).join("") + "…" : clean;
}

const CHANGES: Record<string, string> = {
  added: "added",
  removed: "removed",
  banned: "banned",
  admin: "made an admin",
  revoked: "revoked as admin",
};

/** A membership change (`wire::Membership` in the body) as one sentence, never its JSON. */
export function membershipSentence(who: string, body: string, me: string): string {
  let m: Record<string, unknown> = {};
  try {
    const v = JSON.parse(body);
    if (isObj(v)) m = v;
  } catch {
    // Not JSON: the CLI will refuse it; the sentence says what it claims to be.
  }
  const name = isStr(m.name) && oneLine(m.name) ? `the group “${oneLine(m.name)}”` : "a group";
  const subjects = Array.isArray(m.subjects) ? m.subjects.filter(isStr) : [];
  const change = isStr(m.change) ? m.change : "";
  if (change === "left") return `${who} left ${name}.`;
  const verb = CHANGES[change];
  if (!verb) return `${who} changed the members of ${name}.`;
  const whom = subjects.includes(me)
    ? subjects.length === 1 ? "you" : `you and ${subjects.length - 1} other${subjects.length > 2 ? "s" : ""}`
    : `${subjects.length} member${subjects.length === 1 ? "" : "s"}`;
  const where = change === "added" ? ` to ${name}` : ` in ${name}`;
  return `${who} ${verb} ${whom}${where}.`;
}

/** Who a verified sender is, in a sentence. */
export function senderWords(card: Card, contacts: Contact[]): string {
  const c = contacts.find((x) => x.fingerprint === card.fingerprint);
  return c ? oneLine(c.name) : `${oneLine(card.name)} (not in your contacts)`;
}

/** The list row for an envelope left on the relay for the CLI. */
export function cliNotice(
  envId: string,
  received: number,
  opened: { why: string; card?: Card; inner?: Inner },
  contacts: Contact[],
  me: string,
): Message {
  const { card, inner } = opened;
  const who = card ? senderWords(card, contacts) : "";
  const body =
    card && inner?.kind === "membership"
      ? membershipSentence(who, inner.body, me)
      : `A message you can open only with the pigeon CLI${who ? ` (${opened.why}, from ${who})` : ` (${opened.why})`}.`;
  return {
    key: `cli:${oneLine(envId)}`,
    id: oneLine(envId),
    dir: "in",
    peer: card ? who : "?",
    fingerprint: card?.fingerprint ?? "",
    ts: inner?.ts ?? received,
    kind: "cli",
    body,
    files: [],
    notice: "cli",
    error: "Left on the relay for the pigeon CLI with this identity: run `pigeon recv` there.",
  };
}

/** The list row for a message the page refused (what the CLI would reject too). */
export function refusedNotice(envId: string, received: number, why: string): Message {
  return {
    key: `rej:${oneLine(envId)}`,
    id: oneLine(envId),
    dir: "in",
    peer: "?",
    fingerprint: "",
    ts: received,
    kind: "rejected",
    body: `A message was refused: ${oneLine(why, 200)}`,
    files: [],
    notice: "rejected",
  };
}

/** What becomes of a verified message, by its (sender, id) as `recv`'s `conflict` decides:
 * one seen before from the same sender is a replay; an id another sender used first is
 * refused, except that a contact's message wins over strangers' (so a stranger who copies
 * a contact's id cannot hide it). `seen` are the senders of earlier messages with this id
 * (mine for what I sent). */
export function idVerdict(
  sender: string,
  seen: string[],
  isContact: (fp: string) => boolean,
): "new" | "replay" | "new-over-strangers" | "refused" {
  if (seen.includes(sender)) return "replay";
  if (seen.length === 0) return "new";
  if (isContact(sender) && !seen.some(isContact)) return "new-over-strangers";
  return "refused";
}

export class KeyChangeError extends Error {
  constructor(
    public name: string,
    public oldFp: string,
    public newFp: string,
  ) {
    super(
      `KEY CHANGE: ${name} is pinned to ${oldFp} but this card has key ${newFp}. ` +
        `Check the new fingerprint with ${name} another way before accepting it.`,
    );
  }
}

/** A card's name that cannot be a contact's (`keys::validate_name`). */
export class NameError extends WireError {}

/** What pinning a card means, checked as `contact add` checks it, in its order: the card
 * (signature, fields, name rules), a name that can be a contact's, then the contact pinned
 * under that name (exactly or but for case) with another key: a [`KeyChangeError`] unless
 * `acceptNewKey`, and then the contact it replaces. */
export function planPin(
  value: unknown,
  contacts: Contact[],
  myFingerprint: string,
  acceptNewKey = false,
): { card: Card; replaces?: Contact } {
  const card = checkCard(value);
  if (card.fingerprint === myFingerprint) throw new WireError("this is your own card");
  if (!validName(card.name)) {
    throw new NameError(
      `this card's name ${JSON.stringify(oneLine(card.name))} cannot be a contact's name: use 1 to 64 ` +
        "letters, digits and . _ - @ + (the CLI can pin it under another name with `contact add --as`)",
    );
  }
  const named = byName(contacts, card.name);
  if (!named || named.fingerprint === card.fingerprint) return { card };
  if (!acceptNewKey) throw new KeyChangeError(named.name, named.fingerprint, card.fingerprint);
  return { card, replaces: named };
}
