// The relay's /v1 API as the CLI uses it (src/client.rs): batch posts, signed long-poll
// reads and acknowledgements. The page only ever talks to the relay that served it
// (the CSP allows connect-src 'self'), so paths are relative to the page's origin.

import { signRequest, mailboxId, nowSecs, publicKeyOf } from "./wire.ts";

export interface StoredEnvelope {
  seq: number;
  id: string;
  payload: string;
  received: number;
  expires: number;
}

export interface BatchResult {
  status: number;
  seq?: number;
  error?: { code: string; message: string };
}

/** A refusal by the relay (with its stable code) or no answer at all (`unreachable`). */
export class RelayError extends Error {
  constructor(
    message: string,
    public code: string,
    public status = 0,
  ) {
    super(message);
  }
  get unreachable(): boolean {
    return this.code === "unreachable";
  }
}

async function call(path: string, init: RequestInit): Promise<unknown> {
  let resp: Response;
  try {
    resp = await fetch(path, { ...init, cache: "no-store", credentials: "omit" });
  } catch (e) {
    throw new RelayError(
      "the relay is not reachable: it may be down, or this device offline (retrying)",
      "unreachable",
    );
  }
  let body: any = null;
  try {
    body = await resp.json();
  } catch {
    // A proxy's error page: not JSON.
  }
  if (!resp.ok) {
    const e = body?.error;
    throw new RelayError(
      e?.message ? `the relay refused: ${e.message}` : `the relay answered ${resp.status}`,
      e?.code ?? "http",
      resp.status,
    );
  }
  return body;
}

/** Posts envelopes in one `POST /v1/batch`; the results come in request order. */
export async function batch(
  items: { mailbox: string; id: string; payload: string; ttl?: number }[],
  token?: string,
): Promise<BatchResult[]> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = JSON.stringify({
    v: 1,
    items: items.map((i) => ({
      mailbox: i.mailbox,
      envelope: { v: 1, id: i.id, payload: i.payload, ...(i.ttl ? { ttl: i.ttl } : {}) },
    })),
  });
  const reply = (await call("/v1/batch", { method: "POST", headers, body })) as {
    results: BatchResult[];
  };
  return reply.results;
}

function signed(seed: Uint8Array, method: string, query: string): [string, RequestInit] {
  const path = `/v1/mailboxes/${mailboxId(publicKeyOf(seed))}`;
  // What the browser sends as Host is the page's authority, and the relay checks it.
  const headers = signRequest(seed, method, location.host, path, query, nowSecs());
  return [`${path}?${query}`, { method, headers }];
}

/** Envelopes after `after`, waiting up to `wait` seconds for one (a long poll). */
export async function fetchMailbox(
  seed: Uint8Array,
  after: number,
  wait: number,
  limit = 200,
): Promise<{ envelopes: StoredEnvelope[]; more: boolean }> {
  const [url, init] = signed(seed, "GET", `after=${after}&limit=${limit}&wait=${wait}`);
  return (await call(url, init)) as { envelopes: StoredEnvelope[]; more: boolean };
}

/** Deletes every envelope up to and including `upto`. */
export async function ack(seed: Uint8Array, upto: number): Promise<void> {
  const [url, init] = signed(seed, "DELETE", `upto=${upto}`);
  await call(url, init);
}

export async function info(): Promise<{ name: string; admission: string }> {
  return (await call("/v1/info", { method: "GET" })) as { name: string; admission: string };
}
