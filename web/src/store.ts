// IndexedDB: the identity (secret keys only inside an age scrypt file), pinned contacts and
// the messages seen. Each origin (relay) has its own database, as browsers keep them apart.

import type { Card } from "./wire.ts";

/** An attachment as stored: its bytes (base64) live in the `files` store under `ref` and
 * are read when the file is opened, so the inbox never holds them all. Rows from older
 * pages carry `data` instead. */
export interface StoredFile {
  name: string;
  media_type: string;
  size: number;
  ref?: string;
  data?: string;
}

export interface StoredIdentity {
  name: string;
  fingerprint: string;
  mailbox: string;
  recipient: string;
  relays: string[];
  seq: number;
  issued: number;
  created: number;
  /** `{"age":"AGE-SECRET-KEY-1…","mailbox":"<seed hex>"}` under the user's passphrase. */
  secrets: string;
}

export interface Contact {
  name: string;
  fingerprint: string;
  card: Card;
  added: number;
}

export type Delivery = "sending" | "delivered" | "failed";

export interface Message {
  /** `in:SENDER:ID` (`in:ID` from older pages), `out:ID`, `cli:ENVELOPE` or `rej:ENVELOPE`. */
  key: string;
  id: string;
  dir: "in" | "out";
  /** Peer's name and fingerprint (sender for "in", recipient for "out"). */
  peer: string;
  fingerprint: string;
  ts: number;
  kind: string;
  body: string;
  files: StoredFile[];
  /** For "in": the sender was no contact of mine when it arrived. */
  stranger?: boolean;
  /** For "in": a contact of that name is pinned to another key. */
  keyChange?: boolean;
  /** For "in": the sender's card, so a stranger can be added. */
  card?: Card;
  delivery?: Delivery;
  error?: string;
  /** A row that is not a message: one left on the relay for the CLI, or one refused. */
  notice?: "cli" | "rejected";
}

const DB = "pigeon";
const STORES = ["kv", "contacts", "messages", "files"] as const;
type StoreName = (typeof STORES)[number];

let db: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  db ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = () => {
      const d = req.result;
      const has = (n: string) => d.objectStoreNames.contains(n);
      if (!has("kv")) d.createObjectStore("kv");
      if (!has("contacts")) d.createObjectStore("contacts", { keyPath: "fingerprint" });
      if (!has("messages")) d.createObjectStore("messages", { keyPath: "key" });
      // Version 2: attachments' bytes apart from their messages.
      if (!has("files")) d.createObjectStore("files");
    };
    req.onsuccess = () => {
      // A newer page in another tab upgrades the database: let it, and reload there.
      req.result.onversionchange = () => req.result.close();
      resolve(req.result);
    };
    req.onblocked = () => reject(new Error("close the other tabs of this page (an older version holds the storage), then reload"));
    req.onerror = () => reject(new Error(`the browser's storage is not available: ${req.error}`));
  });
  return db;
}

async function run<T>(
  store: StoreName,
  mode: IDBTransactionMode,
  op: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const d = await open();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(store, mode);
    const req = op(tx.objectStore(store));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const getIdentity = () =>
  run<StoredIdentity | undefined>("kv", "readonly", (s) => s.get("identity"));
export const putIdentity = (id: StoredIdentity) =>
  run("kv", "readwrite", (s) => s.put(id, "identity"));

/** The relay's posting password or token, when it asks for one (`/v1/info` admission). */
export const getToken = () => run<string | undefined>("kv", "readonly", (s) => s.get("token"));
export const putToken = (t: string) => run("kv", "readwrite", (s) => s.put(t, "token"));

export const contacts = () => run<unknown[]>("contacts", "readonly", (s) => s.getAll());
export const putContact = (c: Contact) => run("contacts", "readwrite", (s) => s.put(c));
export const deleteContact = (fp: string) => run("contacts", "readwrite", (s) => s.delete(fp));

/** Every stored row as it is: [`inbox.storedMessage`] checks them. */
export const messages = () => run<unknown[]>("messages", "readonly", (s) => s.getAll());
export const getMessage = (key: string) =>
  run<Message | undefined>("messages", "readonly", (s) => s.get(key));
/** Many stores in one transaction. */
async function tx(stores: StoreName[], op: (t: IDBTransaction) => void): Promise<void> {
  const d = await open();
  return new Promise((resolve, reject) => {
    const t = d.transaction(stores, "readwrite");
    op(t);
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/** Stores a message; attachment bytes it carries move to the `files` store (in `m` too,
 * which then holds only their `ref`), in one transaction. */
export async function putMessage(m: Message): Promise<void> {
  const files = m.files.map((f, i) => {
    const { data, ...meta } = f;
    return { meta: data === undefined ? f : { ...meta, ref: `${m.key}/${i}` }, data };
  });
  await tx(["messages", "files"], (t) => {
    for (const f of files) if (f.data !== undefined) t.objectStore("files").put(f.data, f.meta.ref);
    t.objectStore("messages").put({ ...m, files: files.map((f) => f.meta) });
  });
  m.files = files.map((f) => f.meta);
}

/** An attachment's bytes (base64), or undefined when they are no longer stored. */
export const getFile = (ref: string) => run<string | undefined>("files", "readonly", (s) => s.get(ref));

/** Deletes a message and its attachments. */
export const deleteMessage = (key: string) =>
  tx(["messages", "files"], (t) => {
    t.objectStore("messages").delete(key);
    t.objectStore("files").delete(IDBKeyRange.bound(`${key}/`, `${key}/\uffff`));
  });
