// Contacts (TOFU, as `keys::contacts`), sending (seal + batch post) and receiving (signed
// long polls, open + verify, acknowledge). No DOM here: the page renders what this holds.

import * as w from "./wire.ts";
import * as msg from "./message.ts";
import * as relay from "./relay.ts";
import * as store from "./store.ts";
import * as inbox from "./inbox.ts";
import type { Contact, Message } from "./store.ts";
import type { Unlocked } from "./identity.ts";

/** Largest attachment total the page sends: the envelope must stay under the relay's body limit. */
export const MAX_FILES_BYTES = 512 * 1024;
/** Seconds a long poll waits for mail. */
const WAIT = 25;

export { KeyChangeError } from "./inbox.ts";

export interface Stats {
  opened: number;
  openMs: number;
  refused: number;
  /** Envelopes left on the relay for the CLI (group messages, OpenPGP senders). */
  leftForCli: number;
  /** The highest seq acknowledged to the relay in this session. */
  acked: number;
  polls: number;
  lastError: string;
}

export class Mail {
  contacts: Contact[] = [];
  messages: Message[] = [];
  /** The relay's posting password or token, if it needs one. */
  token: string | undefined;
  stats: Stats = { opened: 0, openMs: 0, refused: 0, leftForCli: 0, acked: 0, polls: 0, lastError: "" };
  private opener: msg.Opener;
  private sending = new Set<string>();
  private cursor = 0;
  /** The lowest seq of an envelope left on the relay for the CLI in this session: the
   * relay's DELETE takes everything up to a seq, so nothing at or past it is acknowledged. */
  private heldFrom = Infinity;
  private running = false;

  /** Other tabs of this page: each reads (and acknowledges) what reaches it first, and
   * tells the others to reload from the shared IndexedDB. */
  private tabs = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("pigeon");

  constructor(
    public me: Unlocked,
    private changed: () => void,
    private status: (text: string, bad: boolean) => void,
  ) {
    this.opener = new msg.Opener(me.ageKey, me.stored.fingerprint);
    if (this.tabs) {
      this.tabs.onmessage = () => void this.load().then(() => this.changed());
    }
  }

  async load(): Promise<void> {
    this.token ??= await store.getToken();
    // Rows an older page stored (or damaged ones) are repaired or skipped here, so what is
    // stored can never keep the inbox from opening.
    const contacts = await store.contacts();
    const rows = await store.messages();
    this.contacts = contacts.map(inbox.storedContact).filter((c): c is Contact => c !== null);
    this.messages = rows.map(inbox.storedMessage).filter((m): m is Message => m !== null);
    this.messages.sort((a, b) => a.ts - b.ts || (a.key < b.key ? -1 : 1));
    const skipped = rows.length - this.messages.length + contacts.length - this.contacts.length;
    if (skipped > 0) this.status(`${skipped} damaged stored item(s) skipped`, true);
    for (const m of this.messages) {
      // The page closed while it was posting: the relay may or may not have it.
      if (m.delivery === "sending" && !this.sending.has(m.key)) {
        m.delivery = "failed";
        m.error = "not confirmed: the page was closed while sending; send it again if needed";
      }
    }
  }

  contact(fp: string): Contact | undefined {
    return this.contacts.find((c) => c.fingerprint === fp);
  }

  /** Pins a card (pasted, or from a stranger's message). A card for a name that is pinned
   * to another key is refused with a [`KeyChangeError`] unless `acceptNewKey`. */
  async addCard(card: w.Card | string, acceptNewKey = false): Promise<Contact> {
    let value: unknown = card;
    if (typeof card === "string") {
      try {
        value = JSON.parse(card.trim());
      } catch {
        throw new w.WireError("this is not a pigeon card (bad JSON): paste the output of `pigeon card`");
      }
    }
    const { card: c, replaces } = inbox.planPin(value, this.contacts, this.me.stored.fingerprint, acceptNewKey);
    if (replaces) await store.deleteContact(replaces.fingerprint);
    const old = this.contact(c.fingerprint);
    if (old && c.seq < old.card.seq) {
      throw new w.WireError(`this card of ${old.name} is older (seq ${c.seq}) than the pinned one (seq ${old.card.seq})`);
    }
    const contact: Contact = { name: old?.name ?? c.name, fingerprint: c.fingerprint, card: c, added: old?.added ?? w.nowSecs() };
    await store.putContact(contact);
    // Messages that came from this key before are no longer from a stranger.
    for (const m of this.messages) {
      if (m.dir === "in" && !m.notice && m.fingerprint === c.fingerprint && (m.stranger || m.keyChange)) {
        m.stranger = false;
        m.keyChange = false;
        m.peer = contact.name;
        await store.putMessage(m);
      }
    }
    await this.load();
    this.changed();
    this.tabs?.postMessage("changed");
    return contact;
  }

  /** Deletes from this browser the rows (and their files) older than `cutoff` (Unix
   * seconds), except a message still being sent; returns how many. */
  async deleteOlderThan(cutoff: number): Promise<number> {
    const old = this.messages.filter((m) => m.ts < cutoff && m.delivery !== "sending");
    for (const m of old) await store.deleteMessage(m.key);
    await this.load();
    this.changed();
    this.tabs?.postMessage("changed");
    return old.length;
  }

  async send(to: string, body: string, files: File[]): Promise<Message> {
    const c = this.contact(to);
    if (!c) throw new w.WireError("choose a contact to send to");
    const total = files.reduce((n, f) => n + f.size, 0);
    if (total > MAX_FILES_BYTES) {
      throw new w.WireError(`files over ${MAX_FILES_BYTES / 1024} KiB: send large files with the CLI`);
    }
    if (!body && files.length === 0) throw new w.WireError("write a message or choose a file");
    const attachments: msg.Attachment[] = [];
    for (const f of files) {
      const bytes = new Uint8Array(await f.arrayBuffer());
      attachments.push({ name: f.name, media_type: f.type || "application/octet-stream", size: bytes.length, data: w.b64(bytes) });
    }
    const inner: msg.Inner = {
      v: 1,
      id: w.newId(),
      from: this.me.stored.fingerprint,
      to: [c.fingerprint],
      ts: w.nowSecs(),
      kind: attachments.length ? "file" : "text",
      body,
      files: attachments,
    };
    const m: Message = {
      key: `out:${inner.id}`, id: inner.id, dir: "out", peer: c.name, fingerprint: c.fingerprint,
      ts: inner.ts, kind: inner.kind, body, files: attachments, delivery: "sending",
    };
    const ct = await msg.seal(this.me.seed, this.me.cardJson, [c.card.age!], inner);
    this.sending.add(m.key);
    await this.record(m);
    try {
      const [r] = await relay.batch([{ mailbox: c.card.mailbox, id: inner.id, payload: w.b64(ct) }], this.token);
      if (r.status === 200 || r.status === 201) {
        m.delivery = "delivered";
        if (!c.card.relays.includes(location.origin)) {
          m.error = `${c.name}'s card does not list this relay: they read elsewhere and may not see it`;
        }
      } else {
        m.delivery = "failed";
        m.error = r.error?.message ?? `the relay answered ${r.status}`;
      }
    } catch (e) {
      m.delivery = "failed";
      m.error = e instanceof Error ? e.message : String(e);
    }
    this.sending.delete(m.key);
    await this.record(m);
    return m;
  }

  private async record(m: Message): Promise<void> {
    await store.putMessage(m);
    this.tabs?.postMessage("changed");
    const i = this.messages.findIndex((x) => x.key === m.key);
    if (i >= 0) this.messages[i] = m;
    else this.messages.push(m);
    this.changed();
  }

  /** Reads my mailbox until [`Mail.stop`]: long polls, each batch opened then acknowledged. */
  async run(): Promise<void> {
    this.running = true;
    let failing = false;
    let first = true;
    while (this.running) {
      try {
        // The first read does not wait, so the inbox is usable at once.
        const r = await relay.fetchMailbox(this.me.seed, this.cursor, first ? 0 : WAIT);
        this.stats.polls++;
        if (failing || first) this.status("connected to the relay", false);
        failing = false;
        first = false;
        if (r.envelopes.length === 0) continue;
        for (const env of r.envelopes) {
          // A local failure (storage) throws from here: nothing is acknowledged then.
          if ((await this.receive(env)) === "held") this.heldFrom = Math.min(this.heldFrom, env.seq);
        }
        const last = r.envelopes[r.envelopes.length - 1].seq;
        this.cursor = last;
        this.changed();
        this.tabs?.postMessage("changed");
        const upto = Math.min(last, this.heldFrom - 1);
        if (upto > this.stats.acked) {
          await relay.ack(this.me.seed, upto);
          this.stats.acked = upto;
        }
      } catch (e) {
        failing = true;
        this.stats.lastError = String(e);
        this.status(e instanceof Error ? e.message : String(e), true);
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
  }

  stop(): void {
    this.running = false;
  }

  /** Opens, checks and records one envelope. "held" is one to leave on the relay for the
   * CLI; everything else (shown, refused, a replay) may be acknowledged. */
  private async receive(env: relay.StoredEnvelope): Promise<"shown" | "refused" | "replay" | "held"> {
    const t0 = performance.now();
    let opened: msg.Opened;
    try {
      opened = await this.opener.open(w.unb64(env.payload), env.id);
    } catch (e) {
      return this.refuse(env, e instanceof Error ? e.message : String(e));
    } finally {
      this.stats.openMs += performance.now() - t0;
    }
    this.stats.opened++;
    if (opened.kind === "cli") {
      this.stats.leftForCli++;
      const n = inbox.cliNotice(env.id, env.received, opened, this.contacts, this.me.stored.fingerprint);
      if (!this.messages.some((m) => m.key === n.key)) await this.keep(n);
      return "held";
    }
    const { inner, card } = opened;
    const seen = this.messages
      .filter((m) => !m.notice && m.id === inner.id)
      .map((m) => (m.dir === "in" ? m.fingerprint : this.me.stored.fingerprint));
    const verdict = inbox.idVerdict(card.fingerprint, seen, (fp) => this.contact(fp) !== undefined);
    if (verdict === "replay") return "replay";
    if (verdict === "refused") {
      return this.refuse(env, `message id ${inner.id} was already used by another sender; this copy from ${card.fingerprint} is refused`);
    }
    const sender = this.contact(card.fingerprint);
    if (verdict === "new-over-strangers") {
      this.status(`message ${inner.id} from your contact ${sender!.name} reuses the id of an earlier message from a stranger: that one was not from this contact`, true);
    }
    if (sender && card.seq > sender.card.seq) {
      sender.card = card;
      await store.putContact(sender);
    }
    await this.keep({
      key: `in:${card.fingerprint}:${inner.id}`, id: inner.id, dir: "in", peer: sender?.name ?? card.name,
      fingerprint: card.fingerprint, ts: inner.ts, kind: inner.kind, body: inner.body, files: inner.files ?? [],
      stranger: !sender,
      keyChange: !sender && inbox.byName(this.contacts, card.name) !== undefined,
      card,
    });
    return "shown";
  }

  /** Records a refusal as a one-line notice; the envelope is acknowledged like the CLI's
   * rejections (nothing of it is shown as a message). */
  private async refuse(env: relay.StoredEnvelope, why: string): Promise<"refused"> {
    this.stats.refused++;
    this.status(`a message was refused: ${inbox.oneLine(why, 200)}`, true);
    const n = inbox.refusedNotice(env.id, env.received, why);
    if (!this.messages.some((m) => m.key === n.key)) await this.keep(n);
    return "refused";
  }

  private async keep(m: Message): Promise<void> {
    await store.putMessage(m);
    this.messages.push(m);
  }
}
