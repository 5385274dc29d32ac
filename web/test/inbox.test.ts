// What the inbox must survive: inner messages checked field by field as the CLI's serde
// types and `recv` check them, stored rows repaired, ids deduplicated by (sender, id), and
// membership changes said in one sentence.
import { test } from "node:test";
import assert from "node:assert/strict";

import * as m from "../src/message.ts";
import * as inbox from "../src/inbox.ts";

const good = {
  v: 1,
  id: "0123456789abcdef0123456789abcdef",
  from: "f".repeat(40),
  to: ["e".repeat(40)],
  ts: 1700000000,
  kind: "file",
  body: "hi",
  files: [{ name: "a.txt", media_type: "text/plain", size: 3, data: "YWJj" }],
};

test("inner messages are checked as serde and recv check them", () => {
  assert.equal(m.checkInner(good).files![0].name, "a.txt");
  const { body: _b, files: _f, v: _v, ...bare } = good;
  const min = m.checkInner(bare);
  assert.equal(min.v, 1, "absent v is 1");
  assert.equal(min.body, "", "absent body is empty");
  assert.deepEqual(min.files, []);
  assert.equal(m.checkInner({ ...good, group: null, reply_to: null, extra: [1] }).group, undefined, "null options, unknown fields");
  const refused: [string, unknown][] = [
    ["files holds a null", { ...good, files: [null] }],
    ["files is null", { ...good, files: null }],
    ["an attachment name that is a number", { ...good, files: [{ ...good.files[0], name: 7 }] }],
    ["an attachment without data", { ...good, files: [{ name: "x", media_type: "a/b", size: 0 }] }],
    ["a size that lies", { ...good, files: [{ ...good.files[0], size: 4 }] }],
    ["data that is not base64", { ...good, files: [{ ...good.files[0], data: "YW Jj" }] }],
    ["body null", { ...good, body: null }],
    ["body a number", { ...good, body: 5 }],
    ["to holds a number", { ...good, to: [1] }],
    ["ts negative", { ...good, ts: -1 }],
    ["ts a string", { ...good, ts: "1" }],
    ["kind empty", { ...good, kind: "" }],
    ["kind with a space", { ...good, kind: "a b" }],
    ["kind too long", { ...good, kind: "k".repeat(33) }],
    ["group a number", { ...good, group: 3 }],
    ["v a string", { ...good, v: "1" }],
    ["an array", [good]],
    ["null", null],
    ["too many files", { ...good, files: Array(257).fill(good.files[0]) }],
  ];
  for (const [why, value] of refused) {
    assert.throws(() => m.checkInner(value), /malformed/, why);
  }
});

test("stored rows are repaired or skipped, never trusted", () => {
  const row = { key: "in:x", id: "x", dir: "in", peer: "p", fingerprint: "f", ts: 1, kind: "text", body: "b", files: [null, { name: 3 }, { name: "ok", size: 1, data: "AA==" }] };
  const fixed = inbox.storedMessage(structuredClone(row))!;
  assert.deepEqual(fixed.files.map((f) => f.name), ["ok"]);
  assert.equal(inbox.storedMessage({ ...row, body: null, files: null })!.body, "");
  assert.equal(inbox.storedMessage({ ...row, key: 5 }), null);
  assert.equal(inbox.storedMessage(null), null);
  assert.equal(inbox.storedContact({ name: "a", fingerprint: "f", card: null }), null);
});

test("a message is its (sender, id): a copied id neither hides nor replaces it", () => {
  const contacts = new Set(["alice"]);
  const isContact = (fp: string) => contacts.has(fp);
  assert.equal(inbox.idVerdict("alice", [], isContact), "new");
  assert.equal(inbox.idVerdict("alice", ["alice"], isContact), "replay");
  assert.equal(inbox.idVerdict("alice", ["mallory"], isContact), "new-over-strangers");
  assert.equal(inbox.idVerdict("mallory", ["alice"], isContact), "refused");
  assert.equal(inbox.idVerdict("eve", ["mallory"], isContact), "refused");
});

test("a membership change is one sentence, never its JSON", () => {
  const body = JSON.stringify({ type: "membership", v: 1, group: "0".repeat(32), name: "team\u202Eevil\nx", version: 2, change: "added", subjects: ["me"], members: [], admins: [] });
  const s = inbox.membershipSentence("alice", body, "me");
  assert.equal(s, "alice added you to the group “team evil x”.");
  assert.equal(inbox.membershipSentence("bob", JSON.stringify({ change: "removed", subjects: ["a", "b"], name: "t" }), "me"), "bob removed 2 members in the group “t”.");
  assert.equal(inbox.membershipSentence("bob", "{not json", "me"), "bob changed the members of a group.");
  assert.ok(!inbox.membershipSentence("bob", body, "me").includes("{"));
});

test("a field twice (serde refuses it, JSON.parse keeps the last) is found", () => {
  assert.equal(m.duplicateKey('{"body":"a","id":"x","body":"b"}'), "body");
  assert.equal(m.duplicateKey('{"files":[{"name":"a","size":1,"name":"b"}]}'), "name");
  assert.equal(m.duplicateKey(JSON.stringify(good)), null);
  assert.equal(m.duplicateKey('{"x":{"a":1,"a":2},"y":[{"b":1,"b":2}],"k\\"":1,"k":2}'), null, "unknown fields are skipped whole, escapes read");
  assert.equal(m.duplicateKey('{"files":[{"a":"}","b":"{\\"","a":1}]}'), "a", "braces inside strings");
});
