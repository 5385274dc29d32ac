// Browser tests of the web client: Debian's chromium, headless, driven by playwright-core,
// against a real relay (`pigeon serve --web` on 127.0.0.1) and the real `pigeon` binary as
// the CLI users. Run by tests/integration/web.rs, which starts the relay and passes:
//   PIGEON_BIN  the pigeon binary     RELAY_URL  http://127.0.0.1:PORT     RELAY_PID
//   WORK        a scratch directory   ARTIFACTS  where screenshots go       CHROMIUM
// Prints the figures it measured as JSON lines ("type":"figure"); exits non-zero on failure.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

const { PIGEON_BIN, RELAY_URL, RELAY_PID, WORK, ARTIFACTS, LOCKED_URL, LOCKED_PASSWORD } = process.env;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PASS = "browser passphrase 1";
const figures = [];
const figure = (name, value, unit) => {
  figures.push({ type: "figure", name, value, unit });
  console.log(JSON.stringify({ type: "figure", name, value, unit }));
};
const step = (s) => console.error(`-- ${s}`);

/** A CLI user: `pigeon ARGS` with their own PIGEON_HOME. */
function cli(name) {
  const home = join(WORK, name);
  mkdirSync(home, { recursive: true });
  const env = { PATH: process.env.PATH, PIGEON_HOME: home, NO_COLOR: "1" };
  const run = (args, input = "", extra = {}) =>
    execFileSync(PIGEON_BIN, args, { env: { ...env, ...extra }, input, encoding: "utf8" });
  return {
    home,
    run,
    json: (args, input, extra) =>
      run(args, input, extra).split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    keygen() {
      run(["keygen", "--name", name.replace(/\d+$/, "")]);
      run(["relay", "add", RELAY_URL]);
      return run(["card"]).trim();
    },
  };
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `web-${name}.png`), fullPage: true });
}

async function createIdentity(page, name, url = RELAY_URL) {
  await page.goto(`${url}/`);
  await page.waitForSelector("#create");
  await page.fill("#name", name);
  await page.fill("#pass", PASS);
  await page.fill("#pass2", PASS);
  await page.click("#create");
  await page.waitForSelector("body[data-screen=inbox]");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("connected"));
  return (await page.inputValue("#my-card")).trim();
}

async function addContact(page, card) {
  await page.fill("#card-in", card);
  await page.click("#add-contact");
}

async function send(page, toName, body, files = []) {
  await page.selectOption("#to", { label: toName });
  await page.fill("#body", body);
  if (files.length) await page.setInputFiles("#files", files);
  const before = await page.locator("#messages li.out").count();
  await page.click("#send");
  const li = page.locator("#messages li.out").nth(before);
  await li.locator(".delivery", { hasText: "delivered to the relay" }).waitFor();
  return li;
}

/** The incoming message whose body is exactly `body`. */
async function incoming(page, body) {
  const li = page.locator("#messages li.in").filter({ has: page.locator(".body", { hasText: body }) });
  await li.first().waitFor({ timeout: 30_000 });
  return li.first();
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // pigeon.test is 127.0.0.1 under another name: a plain-http origin that is not a secure
  // context, as http://pi.local:7447/ is for a phone on the LAN.
  args: ["--no-sandbox", "--disable-gpu", "--no-proxy-server", "--host-resolver-rules=MAP pigeon.test 127.0.0.1"],
});
let failed = false;
try {
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, acceptDownloads: true };
  const alice = await (await browser.newContext(phone)).newPage();
  const errors = [];
  alice.on("pageerror", (e) => errors.push(String(e)));
  alice.on("console", (m) => m.type() === "error" && errors.push(m.text()));

  step("a newcomer creates an identity in the browser");
  await alice.goto(`${RELAY_URL}/`);
  await alice.waitForSelector("#create");
  await shot(alice, "welcome");
  const aliceCard = await createIdentity(alice, "alice");
  assert.equal(JSON.parse(aliceCard).kind, "age");

  step("browser and CLI exchange cards, messages and files both ways");
  const carol = cli("carol");
  const carolCard = carol.keygen();
  carol.run(["contact", "add"], aliceCard);
  await addContact(alice, carolCard);
  await alice.locator("#contacts li", { hasText: "carol" }).waitFor();
  const upload = { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("file from the browser\n\u00e9") };
  await send(alice, "carol", "hello carol, from a browser", [upload]);
  const got = carol.json(["recv"]);
  assert.equal(got.length, 1, JSON.stringify(got));
  assert.equal(got[0].body, "hello carol, from a browser");
  assert.equal(got[0].from.name, "alice");
  assert.equal(got[0].from.known, true);
  assert.equal(got[0].files[0].name, "notes.txt");
  assert.deepEqual(readFileSync(got[0].files[0].path), upload.buffer);

  const hostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & "q"`;
  writeFileSync(join(WORK, "photo.bin"), Buffer.from([0, 1, 2, 250, 255]));
  carol.run(["send", "--to", "alice", "--file", join(WORK, "photo.bin"), hostile]);
  const li = await incoming(alice, "& \"q\"");
  assert.equal(await li.locator(".body").textContent(), hostile, "shown as text, exactly");
  assert.equal(await alice.locator("#messages img, #messages script").count(), 0, "no markup from a message");
  assert.equal(await alice.evaluate(() => window.__pwned), undefined, "no script from a message");
  assert.equal(await li.locator(".badge").count(), 0, "carol is a contact, not a stranger");
  const [dl] = await Promise.all([alice.waitForEvent("download"), li.locator(".files a").click()]);
  assert.equal(dl.suggestedFilename(), "photo.bin");
  assert.deepEqual(readFileSync(await dl.path()), Buffer.from([0, 1, 2, 250, 255]));
  await shot(alice, "inbox");

  step("an OpenPGP contact is refused with a pointer to the CLI");
  const paul = cli("paul");
  paul.run(["keygen", "--name", "paul", "--kind", "pgp"]);
  await addContact(alice, paul.run(["card"]).trim());
  await alice.locator("#contact-error", { hasText: "OpenPGP" }).waitFor();
  assert.match(await alice.textContent("#contact-error"), /CLI/);
  assert.equal(await alice.locator("#contacts li", { hasText: "paul" }).count(), 0);

  step("a key change is shown and refused until accepted");
  const impostor = cli("carol2");
  const newCard = impostor.keygen();
  impostor.run(["contact", "add"], aliceCard);
  impostor.run(["send", "--to", "alice", "it is me, carol, with a new key"]);
  const changed = await incoming(alice, "it is me, carol, with a new key");
  await changed.locator(".badge.bad", { hasText: "KEY CHANGED" }).waitFor();
  await addContact(alice, newCard);
  await alice.locator("#keychange:not(.hidden)", { hasText: "KEY CHANGE" }).waitFor();
  await shot(alice, "keychange");
  const pinned = await alice.locator("#contacts li", { hasText: "carol" }).textContent();
  assert.ok(pinned.includes(JSON.parse(carolCard).fingerprint), "the old key stays pinned");
  await alice.click("#accept-key");
  await alice.locator("#contacts li", { hasText: JSON.parse(newCard).fingerprint }).waitFor();
  await changed.locator(".badge").waitFor({ state: "detached" });

  step("two browser users exchange messages (a stranger first)");
  const bob = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  bob.on("pageerror", (e) => errors.push(String(e)));
  const bobCard = await createIdentity(bob, "bob");
  await addContact(bob, aliceCard);
  await bob.locator("#contacts li", { hasText: "alice" }).waitFor();
  await send(bob, "alice", "hi alice, bob here");
  const fromBob = await incoming(alice, "hi alice, bob here");
  await fromBob.locator(".badge", { hasText: "stranger" }).waitFor();
  await shot(alice, "stranger");
  await fromBob.locator("button.add-sender").click();
  await alice.locator("#contacts li", { hasText: "bob" }).waitFor();
  // A second tab of bob's: whichever tab reads a message, both show it, and a contact
  // added in one tab appears in the other.
  const bobTab = await bob.context().newPage();
  await bobTab.goto(`${RELAY_URL}/`);
  await bobTab.fill("#unlock-pass", PASS);
  await bobTab.click("#unlock");
  await bobTab.waitForSelector("body[data-screen=inbox]");
  await send(alice, "bob", "hello bob");
  await incoming(bob, "hello bob");
  await incoming(bobTab, "hello bob");
  await addContact(bobTab, carolCard);
  await bobTab.locator("#contacts li", { hasText: "carol" }).waitFor();
  await bob.locator("#contacts li", { hasText: "carol" }).waitFor({ timeout: 10_000 });
  await bobTab.close();
  await shot(bob, "desktop");
  assert.ok(bobCard.length > 0);

  step("export to the CLI; import a CLI identity");
  await alice.fill("#export-pass", "export passphrase");
  const downloads = [];
  alice.on("download", (d) => downloads.push(d));
  await alice.click("#export");
  await alice.waitForFunction(() => !document.getElementById("export").disabled);
  while (downloads.length < 3) await new Promise((r) => setTimeout(r, 100));
  const moved = cli("alice-cli");
  mkdirSync(join(moved.home, "identity"), { recursive: true });
  for (const d of downloads) await d.saveAs(join(moved.home, "identity", d.suggestedFilename()));
  const pp = { PIGEON_PASSPHRASE: "export passphrase" };
  const movedCard = JSON.parse(moved.run(["card"], "", pp));
  assert.equal(movedCard.fingerprint, JSON.parse(aliceCard).fingerprint);
  moved.run(["contact", "add"], carolCard);
  const opened = moved.json(["open"], carol.run(["seal", "--to", "alice", "--armor", "for the CLI alice"]), pp);
  assert.equal(opened[0].body, "for the CLI alice");

  const dave = cli("dave");
  const daveCard = JSON.parse(dave.keygen());
  const imp = await (await browser.newContext(phone)).newPage();
  await imp.goto(`${RELAY_URL}/`);
  await imp.waitForSelector("#import");
  await imp.setInputFiles("#import-files", ["identity.json", "age.key", "mailbox.key"].map((f) => join(dave.home, "identity", f)));
  await imp.fill("#import-pass", PASS);
  await imp.click("#import");
  await imp.waitForSelector("body[data-screen=inbox]");
  assert.ok((await imp.textContent("#who")).includes(daveCard.fingerprint));
  await addContact(imp, carolCard);
  await imp.locator("#contacts li", { hasText: "carol" }).waitFor();
  carol.run(["contact", "add"], JSON.stringify(daveCard));
  carol.run(["send", "--to", "dave", "to dave, read in a browser"]);
  await incoming(imp, "to dave, read in a browser");

  step("a relay that needs a password, by a name that is not a secure context");
  const erin = await (await browser.newContext(phone)).newPage();
  erin.on("pageerror", (e) => errors.push(String(e)));
  await createIdentity(erin, "erin", LOCKED_URL.replace("127.0.0.1", "pigeon.test"));
  assert.equal(await erin.evaluate(() => isSecureContext), false);
  await erin.locator("#token-box:not(.hidden)").waitFor();
  await addContact(erin, carolCard);
  await erin.locator("#contacts li", { hasText: "carol" }).waitFor();
  await erin.selectOption("#to", { label: "carol" });
  await erin.fill("#body", "knock knock");
  await erin.click("#send");
  await erin.locator("#messages li.out .delivery", { hasText: "not delivered" }).waitFor();
  await erin.fill("#relay-token", LOCKED_PASSWORD);
  await erin.click("#save-token");
  await send(erin, "carol", "with the password");
  await erin.close();

  step("performance: load, unlock, decrypt+verify 500 messages");
  const N = 500;
  const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ to: ["alice"], body: `bulk ${i}` })).join("\n");
  // alice's page is closed first: else it reads (and acknowledges) some of them itself.
  await alice.close();
  const sent = impostor.json(["send", "--json"], lines + "\n");
  assert.equal(sent.filter((l) => l.deliveries?.[0]?.ok).length, N, JSON.stringify(sent.slice(-2)));
  const again = await (await browser.contexts()[0]).newPage();
  again.on("pageerror", (e) => errors.push(String(e)));
  await again.goto(`${RELAY_URL}/`);
  await again.waitForSelector("body[data-screen=unlock]");
  const unlockReady = await again.evaluate(() => performance.now());
  await again.fill("#unlock-pass", PASS);
  const t0 = await again.evaluate(() => performance.now());
  await again.click("#unlock");
  await again.waitForSelector("body[data-screen=inbox]");
  const inboxAt = Number(await again.evaluate(() => document.body.dataset.inboxAt));
  figure("web: page load to unlock screen", Math.round(unlockReady), "ms");
  figure("web: unlock (scrypt logN 16) to usable inbox", Math.round(inboxAt - t0), "ms");
  await again
    .waitForFunction((n) => window.pigeonStats && window.pigeonStats.opened >= n, N, { timeout: 40_000 })
    .catch(async (e) => {
      const s = await again.evaluate(() => [window.pigeonStats, document.getElementById("status").textContent]);
      throw new Error(`${e.message}: ${JSON.stringify(s)}`);
    });
  const stats = await again.evaluate(() => window.pigeonStats);
  figure("web: decrypt+verify in the browser", Math.round((stats.opened / stats.openMs) * 1000), "messages/s");
  assert.equal(stats.refused, 0);
  await incoming(again, "bulk 499");

  step("decrypt+verify on plain http (no WebCrypto: X25519 in JavaScript)");
  await again.close();
  impostor.run(["send", "--json"], lines + "\n");
  const plain = await (await browser.newContext(phone)).newPage();
  plain.on("pageerror", (e) => errors.push(String(e)));
  await plain.goto(`${RELAY_URL.replace("127.0.0.1", "pigeon.test")}/`);
  assert.equal(await plain.evaluate(() => isSecureContext), false);
  await plain.setInputFiles("#import-files", ["identity.json", "age.key", "mailbox.key"].map((f) => join(moved.home, "identity", f)));
  await plain.fill("#import-pass", "export passphrase");
  await plain.click("#import");
  await plain.waitForSelector("body[data-screen=inbox]");
  await plain.waitForFunction((n) => window.pigeonStats && window.pigeonStats.opened >= n, N, { timeout: 60_000 });
  const slow = await plain.evaluate(() => window.pigeonStats);
  figure("web: decrypt+verify on plain http (JavaScript X25519)", Math.round((slow.opened / slow.openMs) * 1000), "messages/s");
  assert.equal(slow.refused, 0);

  step("the relay goes down: the page says so");
  process.kill(Number(RELAY_PID), "SIGKILL");
  await plain.waitForSelector("#status.bad", { timeout: 60_000 });
  assert.match(await plain.textContent("#status"), /not reachable/);
  await shot(plain, "relay-down");
  assert.deepEqual(errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(e)), []);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
