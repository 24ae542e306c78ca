// node --test js/ : the JS verifier agrees with the Python core on shared vectors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeBase64Url, variantOf, verifyDecision } from "./edgesplit-verify.mjs";

const vectors = JSON.parse(readFileSync(new URL("../tests/cases/token-vectors.json", import.meta.url), "utf8"));

for (const vector of vectors.cases) {
  test(`vector: ${vector.name}`, async () => {
    const result = await verifyDecision(vector.token, vectors.keys, { now: vector.now ?? vectors.now });
    assert.equal(result.ok, vector.ok, JSON.stringify(result));
    if (vector.ok) assert.deepEqual(result.claims, vector.claims);
    else assert.equal(result.reason, vector.reason);
  });
}

test("variantOf falls back to the control unless verified", async () => {
  const good = await verifyDecision(vectors.cases[1].token, vectors.keys, { now: vectors.now });
  assert.equal(variantOf(good, "hero"), "bold");
  assert.equal(variantOf(good, "absent"), "control");
  assert.equal(variantOf({ ok: false }, "hero"), "control");
});

test("base64url is canonical", () => {
  assert.deepEqual([...decodeBase64Url("AQID")], [1, 2, 3]);
  assert.equal(decodeBase64Url("AQID="), null);
  assert.equal(decodeBase64Url("AQ+D"), null);
  assert.equal(decodeBase64Url("AR"), null); // non-zero trailing bits
});

test("hostile input never throws", async () => {
  for (const junk of [undefined, null, 42, {}, "", ".", "es1....", "es1.k.x.y", "é".repeat(10), "a".repeat(9000)]) {
    const result = await verifyDecision(junk, vectors.keys, { now: vectors.now });
    assert.equal(result.ok, false);
  }
});
