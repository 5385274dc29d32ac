// IndexedDB: the identity (secret keys only inside an age scrypt file), pinned contacts and
// the messages seen. Each origin (relay) has its own database, as browsers keep them apart.

import type { Card } from "./wire.ts";
import type { Attachment } from "./message.ts";

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
  files: Attachment[];
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
const STORES = ["kv", "contacts", "messages"] as const;
type StoreName = (typeof STORES)[number];

let db: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  db ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      const d = req.result;
      d.createObjectStore("kv");
      d.createObjectStore("contacts", { keyPath: "fingerprint" });
      d.createObjectStore("messages", { keyPath: "key" });
    };
    req.onsuccess = () => resolve(req.result);
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
export const putMessage = (m: Message) => run("messages", "readwrite", (s) => s.put(m));
export const deleteMessage = (key: string) => run("messages", "readwrite", (s) => s.delete(key));
