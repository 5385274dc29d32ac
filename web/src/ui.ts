// DOM helpers. Every string becomes a text node (never HTML), so nothing a message carries
// can become markup or script.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | ((e: Event) => void)>;

export function el(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") e.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) e.setAttribute(k, "");
    else if (v !== false) e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

export function status(text: string, bad = false): void {
  const s = document.getElementById("status")!;
  s.textContent = text;
  s.classList.toggle("bad", bad);
}

/** Offers `bytes` as a download named `name` (a blob URL, revoked soon after). */
export function download(name: string, bytes: Uint8Array | string, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export const value = (id: string): string =>
  (document.getElementById(id) as HTMLInputElement | HTMLTextAreaElement).value;

export function showError(id: string, e: unknown): void {
  const box = document.getElementById(id);
  if (box) box.textContent = e instanceof Error ? e.message : String(e);
}

export const time = (ts: number): string =>
  new Date(ts * 1000).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
