// node --test js/ : the JS verifier agrees with the Python core on shared vectors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeBase64Url, variantOf, verifyDecision } from "./edgesplit-verify.mjs";

const load = (name) => JSON.parse(readFileSync(new URL(`../tests/cases/${name}`, import.meta.url), "utf8"));
const vectors = load("token-vectors.json");
const compact = load("token-vectors-es2.json");

for (const file of [vectors, compact]) {
  for (const vector of file.cases) {
    test(`vector: ${vector.name}`, async () => {
      const options = { now: vector.now ?? file.now, manifests: file.manifests ?? null };
      const result = await verifyDecision(vector.token, file.keys, options);
      assert.equal(result.ok, vector.ok, JSON.stringify(result));
      if (vector.ok) assert.deepEqual(result.claims, vector.claims);
      else assert.equal(result.reason, vector.reason);
    });
  }
}

test("es2: a manifest is fetched through a lookup, and a forged one is refused", async () => {
  const [id, text] = Object.entries(compact.manifests).find(([, t]) => t.includes('"hero"'));
  const token = compact.cases[0].token;
  const asked = [];
  // Fresh module instances: the manifest cache of the vector tests must not answer for them.
  const fetching = await import("./edgesplit-verify.mjs?fetching");
  const fetched = await fetching.verifyDecision(token, compact.keys, {
    now: compact.now,
    manifests: async (wanted) => { asked.push(wanted); return text; },
  });
  assert.equal(fetched.ok, true);
  assert.deepEqual(asked, [id]);
  const forged = text.replace('"bold"', '"evil"');
  const fresh = await import("./edgesplit-verify.mjs?forged");
  const result = await fresh.verifyDecision(token, compact.keys, { now: compact.now, manifests: { [id]: forged } });
  assert.equal(result.reason, "unknown_manifest");
  const missing = await fresh.verifyDecision(token, compact.keys, { now: compact.now });
  assert.equal(missing.reason, "unknown_manifest");
});

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
