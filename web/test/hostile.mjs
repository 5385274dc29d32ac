// Browser test of the inbox under attack and of mail the page cannot read (run by
// tests/integration/web/mod.rs, like browser.mjs, with the same environment): a validly
// signed message with `files:[null]` is refused and the inbox goes on; a stranger who copies
// a contact's message id cannot hide it; an OpenPGP sender's message, a group message and a
// membership change stay on the relay for the CLI, which receives them with the identity
// exported from the page; a damaged stored row does not stop a reload and unlock.
// Needs `node build.mjs --tests` first (for .test-build/seal-raw.mjs).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

import { newId, nowSecs, sealAndPost } from "../.test-build/seal-raw.mjs";

const { PIGEON_BIN, RELAY_URL, WORK, ARTIFACTS } = process.env;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PASS = "browser passphrase 1";
const step = (s) => console.error(`-- ${s}`);

function cli(name) {
  const home = join(WORK, name);
  mkdirSync(home, { recursive: true });
  const env = { PATH: process.env.PATH, PIGEON_HOME: home, NO_COLOR: "1" };
  const run = (args, input = "", extra = {}) =>
    execFileSync(PIGEON_BIN, args, { env: { ...env, ...extra }, input, encoding: "utf8" });
  return {
    home,
    run,
    json: (args, input, extra) => run(args, input, extra).split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    keygen(kind = "age") {
      run(["keygen", "--name", name, "--kind", kind]);
      run(["relay", "add", RELAY_URL]);
      return run(["card"]).trim();
    },
    mailboxKey: () => readFileSync(join(home, "identity", "mailbox.key"), "utf8"),
  };
}

async function incoming(page, body) {
  const li = page.locator("#messages li.in").filter({ has: page.locator(".body", { hasText: body }) });
  await li.first().waitFor({ timeout: 30_000 });
  return li.first();
}

/** The texts of every row's body on the page. */
const bodies = (page) => page.$$eval("#messages li .body", (els) => els.map((e) => e.textContent));

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-proxy-server"],
});
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 1400 }, acceptDownloads: true });
  const ann = await ctx.newPage();
  const errors = [];
  ann.on("pageerror", (e) => errors.push(String(e)));

  await ann.goto(`${RELAY_URL}/`);
  await ann.fill("#name", "ann");
  await ann.fill("#pass", PASS);
  await ann.fill("#pass2", PASS);
  await ann.click("#create");
  await ann.waitForSelector("body[data-screen=inbox]");
  const annCardJson = (await ann.inputValue("#my-card")).trim();
  const annCard = JSON.parse(annCardJson);

  const carl = cli("carl");
  const carlCard = carl.keygen();
  const carlFp = JSON.parse(carlCard).fingerprint;
  carl.run(["contact", "add"], annCardJson);
  await ann.fill("#card-in", carlCard);
  await ann.click("#add-contact");
  await ann.locator("#contacts li", { hasText: "carl" }).waitFor();
  carl.run(["send", "--to", "ann", "one before the poison"]);
  await incoming(ann, "one before the poison");

  step("attachments are stored apart from their messages and read when opened");
  writeFileSync(join(WORK, "pic.bin"), Buffer.from([9, 8, 7, 0, 255]));
  carl.run(["send", "--to", "ann", "--file", join(WORK, "pic.bin"), "a file for ann"]);
  const withFile = await incoming(ann, "a file for ann");
  const stored = await ann.evaluate(() => new Promise((resolve) => {
    indexedDB.open("pigeon").onsuccess = (e) => {
      const req = e.target.result.transaction("messages").objectStore("messages").getAll();
      req.onsuccess = () => resolve(req.result.find((m) => m.body === "a file for ann").files);
    };
  }));
  assert.equal(stored.length, 1);
  assert.equal(stored[0].data, undefined, "no bytes in the message row");
  assert.equal(typeof stored[0].ref, "string");
  const [dl] = await Promise.all([ann.waitForEvent("download"), withFile.locator(".files a").click()]);
  assert.equal(dl.suggestedFilename(), "pic.bin");
  assert.deepEqual(readFileSync(await dl.path()), Buffer.from([9, 8, 7, 0, 255]));

  step("a validly signed message with files:[null] (or a name that is a number) is refused");
  const inner = (body, extra = {}) => ({ v: 1, id: newId(), from: carlFp, to: [annCard.fingerprint], ts: nowSecs(), kind: "file", body, ...extra });
  await sealAndPost(RELAY_URL, carl.mailboxKey(), carlCard, annCard, inner("poison 1", { files: [null] }));
  await sealAndPost(RELAY_URL, carl.mailboxKey(), carlCard, annCard,
    inner("poison 2", { files: [{ name: 7, media_type: "text/plain", size: 0, data: "" }] }));
  carl.run(["send", "--to", "ann", "one after the poison"]);
  const after = await incoming(ann, "one after the poison");
  await ann.locator("#messages li.notice.rejected").nth(1).waitFor();
  assert.match(await ann.locator("#messages li.notice.rejected").first().textContent(), /refused: the signed message is malformed: attachment 1/);
  let shown = await bodies(ann);
  assert.ok(!shown.some((b) => b.startsWith("poison")), JSON.stringify(shown));

  step("a stranger copying a message id hides nothing");
  const mallory = cli("mallory");
  const malloryCard = mallory.keygen();
  const malloryFp = JSON.parse(malloryCard).fingerprint;
  const copied = newId();
  const byMallory = (id, body) => ({ v: 1, id, from: malloryFp, to: [annCard.fingerprint], ts: nowSecs(), kind: "text", body });
  await sealAndPost(RELAY_URL, mallory.mailboxKey(), malloryCard, annCard, byMallory(copied, "mallory was first with this id"));
  await incoming(ann, "mallory was first with this id");
  await sealAndPost(RELAY_URL, carl.mailboxKey(), carlCard, annCard, { ...inner("carl's message with that id"), id: copied, kind: "text" });
  await incoming(ann, "carl's message with that id");
  // And the other way: a contact's id copied afterwards by a stranger is refused.
  const carlsId = await after.getAttribute("data-id");
  await sealAndPost(RELAY_URL, mallory.mailboxKey(), malloryCard, annCard, byMallory(carlsId, "mallory copies carl's id"));
  carl.run(["send", "--to", "ann", "carl again"]);
  await incoming(ann, "carl again");
  await ann.locator("#messages li.notice.rejected", { hasText: "already used by another sender" }).waitFor();
  shown = await bodies(ann);
  assert.ok(!shown.includes("mallory copies carl's id"));
  assert.equal(shown.filter((b) => b === "one after the poison").length, 1);

  step("an OpenPGP sender, a membership change and a group message stay for the CLI");
  const petra = cli("petra");
  petra.keygen("pgp");
  petra.run(["contact", "add"], annCardJson);
  petra.run(["send", "--to", "ann", "from an OpenPGP key"]);
  carl.run(["group", "create", "crew", "--member", "ann"]);
  carl.run(["send", "--group", "crew", "hello crew"]);
  carl.run(["send", "--to", "ann", "after the CLI ones"]);
  await incoming(ann, "after the CLI ones");
  const cliRows = ann.locator("#messages li.notice.cli");
  assert.equal(await cliRows.count(), 3, JSON.stringify(await bodies(ann)));
  const row = (text) => cliRows.filter({ hasText: text });
  assert.equal(await row("only with the pigeon CLI (from an OpenPGP sender)").count(), 1);
  assert.equal(await row("only with the pigeon CLI (a group message, from carl)").count(), 1);
  assert.equal(await row("carl added you to the group “crew”.").locator(".body").textContent(), "carl added you to the group “crew”.");
  shown = await bodies(ann);
  assert.ok(!shown.some((b) => b.startsWith("{") || b.includes("hello crew") || b.includes("from an OpenPGP key")), JSON.stringify(shown));
  await ann.screenshot({ path: join(ARTIFACTS, "web-hostile.png"), fullPage: true });

  step("a damaged stored row (as an older page stored it) does not stop a reload and unlock");
  await ann.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open("pigeon");
    req.onsuccess = () => {
      const tx = req.result.transaction("messages", "readwrite");
      tx.objectStore("messages").put({ key: "in:stored-poison", id: "stored-poison", dir: "in", peer: "old", fingerprint: "", ts: 1, kind: "file", body: "stored poison", files: [null, { name: 7 }] });
      tx.objectStore("messages").put({ key: "out:worse", id: "worse", dir: "out", peer: null, ts: "x", body: { not: "text" }, files: null });
      tx.oncomplete = () => resolve(null);
      tx.onerror = () => reject(tx.error);
    };
  }));
  await ann.reload();
  await ann.fill("#unlock-pass", PASS);
  await ann.click("#unlock");
  await ann.waitForSelector("body[data-screen=inbox]");
  await incoming(ann, "one before the poison");
  await incoming(ann, "stored poison");
  carl.run(["send", "--to", "ann", "after the reload"]);
  await incoming(ann, "after the reload");
  assert.equal(await ann.locator("#messages li.notice.cli").count(), 3, "the CLI rows are not repeated");

  step("a long history: the newest 200 rows are drawn, older ones on request, old ones deleted on request");
  const bulk = Array.from({ length: 210 }, (_, i) => JSON.stringify({ to: ["ann"], body: `bulk ${i}` })).join("\n") + "\n";
  carl.json(["send", "--json"], bulk);
  await incoming(ann, "bulk 209");
  const rows = ann.locator("#messages > li:not(.more)");
  assert.equal(await rows.count(), 200);
  const total = Number(await ann.evaluate(() => document.body.dataset.messages));
  assert.ok(total > 220, String(total));
  await ann.click("#older");
  await ann.waitForFunction((n) => document.querySelectorAll("#messages > li:not(.more)").length === n, total);
  assert.equal(await ann.locator("#older").count(), 0);
  ann.on("dialog", (d) => d.accept());
  await ann.selectOption("#prune-age", "7");
  await ann.click("#prune");
  await ann.locator("#messages li", { hasText: "stored poison" }).waitFor({ state: "detached" });
  assert.equal(Number(await ann.evaluate(() => document.body.dataset.messages)), total - 2, "the two rows of 1970 went");
  await incoming(ann, "bulk 209");

  step("the CLI with the identity exported from the page receives what the page left");
  await ann.fill("#export-pass", "export passphrase");
  const downloads = [];
  ann.on("download", (d) => downloads.push(d));
  await ann.click("#export");
  while (downloads.length < 3) await new Promise((r) => setTimeout(r, 100));
  const annCli = cli("ann-cli");
  mkdirSync(join(annCli.home, "identity"), { recursive: true });
  for (const d of downloads) await d.saveAs(join(annCli.home, "identity", d.suggestedFilename()));
  await ann.close();
  const got = annCli.json(["recv"], "", { PIGEON_PASSPHRASE: "export passphrase" });
  const gotBodies = got.map((m) => m.body);
  assert.ok(gotBodies.includes("from an OpenPGP key"), JSON.stringify(got));
  assert.ok(gotBodies.includes("hello crew"), JSON.stringify(got));
  assert.ok(got.some((m) => m.type === "membership"), JSON.stringify(got));
  assert.deepEqual(errors, []);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
