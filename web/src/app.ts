// The page: create, unlock or import an identity, then contacts, messages and export.
// Everything a message or card carries is shown through text nodes (ui.el), never as HTML.

import "./compat.ts";
import * as id from "./identity.ts";
import * as relay from "./relay.ts";
import * as store from "./store.ts";
import * as w from "./wire.ts";
import { KeyChangeError, Mail } from "./mail.ts";
import type { Message } from "./store.ts";
import { download, el, showError, status, time, value } from "./ui.ts";

const app = document.getElementById("app")!;
const busy = (b: HTMLElement, on: boolean) => ((b as HTMLButtonElement).disabled = on);

async function guarded(button: HTMLElement, errorBox: string, f: () => Promise<void>) {
  showError(errorBox, "");
  busy(button, true);
  try {
    await f();
  } catch (e) {
    showError(errorBox, e);
  } finally {
    busy(button, false);
  }
}

/** What /v1/info said, once it answered. */
let relayInfo: Promise<{ name: string; admission: string } | null>;

async function boot(): Promise<void> {
  relayInfo = relay.info().then(
    (i) => (status(`relay ${i.name}`), i),
    (e) => (status(e.message, true), null),
  );
  const stored = await store.getIdentity();
  if (stored) unlockScreen(stored);
  else welcome();
}

function welcome(): void {
  const create = el("button", { id: "create", onclick: () =>
    guarded(create, "create-error", async () => {
      if (value("pass") !== value("pass2")) throw new Error("the two passphrases differ");
      const u = await id.create(value("name").trim(), value("pass"), location.origin);
      await store.putIdentity(u.stored);
      await main(u);
    }) }, "Create my identity");
  const imp = el("button", { id: "import", class: "plain", onclick: () =>
    guarded(imp, "import-error", async () => {
      const input = document.getElementById("import-files") as HTMLInputElement;
      const files = new Map<string, string>();
      for (const f of Array.from(input.files ?? [])) files.set(f.name, await f.text());
      const u = await id.importFiles(files, value("import-pass"), location.origin);
      await store.putIdentity(u.stored);
      await main(u);
    }) }, "Import");
  app.className = "";
  app.replaceChildren(
    el("section", {},
      el("h2", {}, "Create an identity"),
      el("p", { class: "note" }, "Your keys are made in this browser and never leave it; they are kept here encrypted under your passphrase."),
      el("label", { for: "name" }, "Your name (others see it on your card)"),
      el("input", { id: "name", type: "text", autocomplete: "nickname", maxlength: "64" }),
      el("label", { for: "pass" }, "Passphrase"),
      el("input", { id: "pass", type: "password", autocomplete: "new-password" }),
      el("label", { for: "pass2" }, "Passphrase again"),
      el("input", { id: "pass2", type: "password", autocomplete: "new-password" }),
      create,
      el("div", { id: "create-error", class: "error", role: "alert" })),
    el("section", {},
      el("h2", {}, "Or import an identity from the CLI"),
      el("p", { class: "note" }, "Choose identity.json, age.key and mailbox.key from $PIGEON_HOME/identity/ (age identities only)."),
      el("input", { id: "import-files", type: "file", multiple: true }),
      el("label", { for: "import-pass" }, "Passphrase (of the files if protected; it protects them here)"),
      el("input", { id: "import-pass", type: "password", autocomplete: "current-password" }),
      imp,
      el("div", { id: "import-error", class: "error", role: "alert" })),
  );
}

function unlockScreen(stored: store.StoredIdentity): void {
  const go = el("button", { id: "unlock", type: "submit" }, "Unlock");
  const form = el("form", { onsubmit: (e: Event) => {
    e.preventDefault();
    guarded(go, "unlock-error", async () => {
      const u = await id.unlock(stored, value("unlock-pass"));
      if (u.renewed) await store.putIdentity(u.stored);
      await main(u);
    });
  } },
    el("label", { for: "unlock-pass" }, "Passphrase"),
    el("input", { id: "unlock-pass", type: "password", autocomplete: "current-password" }),
    go,
    el("div", { id: "unlock-error", class: "error", role: "alert" }));
  app.className = "";
  app.replaceChildren(el("section", {}, el("h2", {}, `Unlock ${stored.name}`),
    el("p", { class: "fp" }, stored.fingerprint), form));
  document.body.dataset.screen = "unlock";
  (document.getElementById("unlock-pass") as HTMLInputElement).focus();
}

async function main(u: id.Unlocked): Promise<void> {
  const mail = new Mail(u, () => render(), status);
  await mail.load();
  (window as unknown as { pigeonStats: unknown }).pigeonStats = mail.stats;
  document.getElementById("who")!.textContent = `${u.stored.name} · ${u.stored.fingerprint}`;

  const contactsList = el("ul", { class: "contacts", id: "contacts" });
  const messagesList = el("ol", { class: "messages", id: "messages", "aria-live": "polite" });
  const to = el("select", { id: "to" }) as HTMLSelectElement;
  const keyBox = el("div", { id: "keychange", class: "warn hidden", role: "alert" });
  let pendingCard = "";

  const add = el("button", { id: "add-contact", onclick: () =>
    guarded(add, "contact-error", async () => {
      keyBox.classList.add("hidden");
      pendingCard = value("card-in");
      try {
        await mail.addCard(pendingCard);
        (document.getElementById("card-in") as HTMLTextAreaElement).value = "";
      } catch (e) {
        if (!(e instanceof KeyChangeError)) throw e;
        keyBox.replaceChildren(e.message, el("br"), el("button", { id: "accept-key", class: "plain", onclick: () =>
          guarded(add, "contact-error", async () => {
            await mail.addCard(pendingCard, true);
            keyBox.classList.add("hidden");
            (document.getElementById("card-in") as HTMLTextAreaElement).value = "";
          }) }, "Accept the new key"));
        keyBox.classList.remove("hidden");
      }
    }) }, "Add contact");

  const send = el("button", { id: "send", onclick: () =>
    guarded(send, "send-error", async () => {
      const body = document.getElementById("body") as HTMLTextAreaElement;
      const files = document.getElementById("files") as HTMLInputElement;
      // Cleared once the message is recorded (it then shows its delivery state), so a
      // refusal before that (no contact, a file too large) keeps what was typed.
      const m = await mail.send(to.value, body.value, Array.from(files.files ?? []));
      if (m) {
        body.value = "";
        files.value = "";
      }
    }) }, "Send");

  const prune = el("button", { id: "prune", class: "plain", onclick: () =>
    guarded(prune, "prune-error", async () => {
      const days = Number((document.getElementById("prune-age") as HTMLSelectElement).value);
      if (!confirm(`Delete the messages and files older than ${days} days from this browser?`)) return;
      const n = await mail.deleteOlderThan(w.nowSecs() - days * 86400);
      status(`${n} message(s) deleted from this browser`);
    }) }, "Delete history older than this");

  const exp = el("button", { id: "export", class: "plain", onclick: () =>
    guarded(exp, "export-error", async () => {
      const pass = value("export-pass");
      if (pass.length < 8) throw new Error("choose a passphrase of 8 characters or more for the files");
      for (const f of await id.exportFiles(u, pass)) download(f.name, f.text, "text/plain");
    }) }, "Export identity files");

  let shown = PAGE;
  function render(): void {
    const chosen = to.value;
    to.replaceChildren(...mail.contacts.map((c) => el("option", { value: c.fingerprint }, c.name)));
    if (chosen && mail.contact(chosen)) to.value = chosen;
    contactsList.replaceChildren(
      ...(mail.contacts.length ? mail.contacts.map((c) => el("li", {}, c.name, el("div", { class: "fp" }, c.fingerprint)))
        : [el("li", { class: "note" }, "No contacts yet: paste a card below.")]));
    const atEnd = messagesList.scrollTop + messagesList.clientHeight >= messagesList.scrollHeight - 8;
    // The newest rows only: a long history stays quick to draw; older ones on request.
    const all = mail.messages;
    const from = Math.max(0, all.length - shown);
    const older = from > 0 && el("li", { class: "more" },
      el("button", { id: "older", class: "plain", onclick: () => ((shown += PAGE), render()) },
        `Show ${Math.min(PAGE, from)} older (${from} not shown)`));
    messagesList.replaceChildren(...(older ? [older] : []), ...all.slice(from).map((m) => safeItem(m, mail)));
    if (atEnd) messagesList.scrollTop = messagesList.scrollHeight;
    document.body.dataset.messages = String(mail.messages.length);
  }

  // A relay that admits posts by password or token: the page needs it to send.
  const tokenBox = el("section", { id: "token-box", class: "hidden" },
    el("h2", {}, "Relay password"),
    el("p", { class: "note" }, "This relay needs a password or a token (from `pigeon serve token`) to accept messages."),
    el("input", { id: "relay-token", type: "password", autocomplete: "off" }),
    el("button", { id: "save-token", class: "plain", onclick: async () => {
      mail.token = value("relay-token") || undefined;
      await store.putToken(value("relay-token"));
      status("relay password saved");
    } }, "Save"));
  void relayInfo.then((i) => {
    if (i && i.admission !== "open") tokenBox.classList.remove("hidden");
  });

  app.className = "split";
  app.replaceChildren(
    el("div", {},
      el("section", {},
        el("h2", {}, "My card"),
        el("p", { class: "note" }, "Give it to the people who should write to you (`pigeon contact add` reads it)."),
        el("textarea", { id: "my-card", class: "mono", readonly: true }, u.cardJson),
        el("button", { id: "copy-card", class: "plain", onclick: () => copyCard(u.cardJson) }, "Copy")),
      el("section", {},
        el("h2", {}, "Contacts"),
        contactsList,
        el("label", { for: "card-in" }, "Paste a card (`pigeon card` prints one)"),
        el("textarea", { id: "card-in", class: "mono" }),
        add,
        keyBox,
        el("div", { id: "contact-error", class: "error", role: "alert" })),
      tokenBox,
      el("section", {},
        el("h2", {}, "History in this browser"),
        el("p", { class: "note" }, "Messages and files are kept in this browser (not encrypted) until you delete them."),
        el("label", { for: "prune-age" }, "Older than"),
        el("select", { id: "prune-age" },
          el("option", { value: "7" }, "7 days"),
          el("option", { value: "30" }, "30 days"),
          el("option", { value: "90" }, "90 days"),
          el("option", { value: "365" }, "a year")),
        prune,
        el("div", { id: "prune-error", class: "error", role: "alert" })),
      el("section", {},
        el("h2", {}, "Move to the CLI"),
        el("p", { class: "note" }, "Downloads identity.json, age.key and mailbox.key: put them in $PIGEON_HOME/identity/ (the keys stay protected by this passphrase)."),
        el("label", { for: "export-pass" }, "Passphrase for the files"),
        el("input", { id: "export-pass", type: "password", autocomplete: "new-password" }),
        exp,
        el("div", { id: "export-error", class: "error", role: "alert" }))),
    el("section", {},
      el("h2", {}, "Messages"),
      messagesList,
      el("label", { for: "to" }, "To"),
      to,
      el("label", { for: "body" }, "Message"),
      el("textarea", { id: "body" }),
      el("label", { for: "files" }, "Files (small ones; up to 512 KiB)"),
      el("input", { id: "files", type: "file", multiple: true }),
      send,
      el("div", { id: "send-error", class: "error", role: "alert" })),
  );
  render();
  document.body.dataset.screen = "inbox";
  document.body.dataset.inboxAt = String(Math.round(performance.now()));
  void mail.run();
}

/** The clipboard API needs a secure context; plain http:// from afar falls back to a selection. */
async function copyCard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    status("card copied");
    return;
  } catch {
    // No clipboard API here, or not allowed: select the text and copy that.
  }
  const t = document.getElementById("my-card") as HTMLTextAreaElement;
  t.select();
  const ok = document.execCommand("copy");
  status(ok ? "card copied" : "the card is selected: copy it", !ok);
}

/** Rows drawn at first, and added by each "Show older". */
const PAGE = 200;

const DELIVERY = { sending: "sending…", delivered: "delivered to the relay", failed: "not delivered" };

/** One message's row; a row that cannot be drawn becomes a one-line notice, so one bad
 * message never keeps the others from showing. */
function safeItem(m: Message, mail: Mail): HTMLElement {
  try {
    return messageItem(m, mail);
  } catch (e) {
    return el("li", { class: "in notice broken" },
      el("div", { class: "body" }, `A message that cannot be shown (${e instanceof Error ? e.message : String(e)}).`));
  }
}

function noticeItem(m: Message): HTMLElement {
  return el("li", { class: `in notice ${m.notice}`, "data-id": m.id },
    el("div", { class: "meta" },
      el("span", { class: "badge" }, m.notice === "cli" ? "for the pigeon CLI" : "refused"),
      el("span", {}, time(m.ts))),
    el("div", { class: "body" }, m.body),
    m.error && el("div", { class: "note" }, m.error));
}

function messageItem(m: Message, mail: Mail): HTMLElement {
  if (m.notice) return noticeItem(m);
  const cls = [m.dir, m.stranger ? "stranger" : "", m.keyChange ? "keychange" : ""].join(" ").trim();
  const meta = el("div", { class: "meta" },
    el("span", { class: "peer" }, m.dir === "in" ? `from ${m.peer}` : `to ${m.peer}`),
    el("span", {}, time(m.ts)),
    m.keyChange && el("span", { class: "badge bad" }, "KEY CHANGED: not the key you pinned for this name"),
    m.stranger && !m.keyChange && el("span", { class: "badge" }, "stranger: not in your contacts"),
    m.delivery && el("span", { class: "delivery" }, DELIVERY[m.delivery]));
  const files = m.files.length > 0 && el("div", { class: "files" }, ...m.files.map((f) => {
    const a = el("a", { href: "#", download: f.name }, `${f.name} (${f.size} bytes)`);
    a.addEventListener("click", async (e) => {
      e.preventDefault();
      // Read from storage now: the inbox does not hold attachments' bytes.
      const data = f.data ?? (f.ref ? await store.getFile(f.ref) : undefined);
      if (data === undefined) return status(`${f.name} is no longer stored in this browser`, true);
      download(f.name, w.unb64(data), "application/octet-stream");
    });
    return a;
  }));
  const actions = m.dir === "in" && m.stranger && m.card && el("button", { class: "plain add-sender", onclick: async () => {
    try {
      await mail.addCard(m.card!, m.keyChange);
    } catch (e) {
      status(e instanceof Error ? e.message : String(e), true);
    }
  } }, m.keyChange ? "Accept this new key" : `Add ${m.peer} to contacts`);
  return el("li", { class: cls, "data-id": m.id },
    meta,
    el("div", { class: "body" }, m.body),
    files,
    m.error && el("div", { class: "note" }, m.error),
    actions);
}

boot().catch((e) => status(`the page could not start: ${e.message}`, true));
