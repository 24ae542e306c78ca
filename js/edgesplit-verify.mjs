// Verifies edgesplit decision tokens in Node (>= 20) and in browsers, with WebCrypto only.
//
//   import { verifyDecision } from "./edgesplit-verify.mjs";
//   const result = await verifyDecision(token, { "2026-11": { alg: "EdDSA", publicKey: "<base64url>" } });
//   if (result.ok) render(result.claims.a["hero"]);   // else result.reason says why
//
// Token: es1.<key id>.<payload>.<signature>, base64url without padding (canonical spellings
// only). The algorithm comes from the caller's key for that id, never from the token. Browsers
// should hold only Ed25519 public keys; HS256 secrets belong on servers.
//
// es2 tokens (compact: positions in a manifest, docs/decision-tokens.md) need the manifest
// named by their signed id: pass { manifests: { "<id>": "<manifest text>" } } or a function
// id => text (or a Promise of it), e.g. a fetch of "<admin prefix>/manifest/<id>". The text is
// checked against the id (its SHA-256) before it is used; without it: reason "unknown_manifest".

const REASONS = new Set(["malformed", "unsupported_version", "unknown_key", "bad_signature", "expired", "not_yet_valid", "unknown_manifest"]);
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8192;
const MAX_LIFETIME_SECONDS = 400 * 86400; // browsers keep no cookie longer: a minting error
const MANIFEST_ID_BYTES = 12;
const ENTRY_FLAG_BITS = 3;
const ENTRY_HELD_OUT = 1;
const ENTRY_HOLDOUT = 2; // held out of the experiment by the global holdout
const ENTRY_FLAGS_KNOWN = ENTRY_HELD_OUT | ENTRY_HOLDOUT; // a new flag: give it a bit here, in Python and in the client
const TOKEN_FLAGS_KNOWN = 0;
const encoder = new TextEncoder();

function reject(reason, keyId = null) {
  if (!REASONS.has(reason)) throw new Error(`unknown reason ${reason}`);
  return { ok: false, reason, claims: null, keyId };
}

function toBase64Url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decode base64url, or null unless `text` is exactly the canonical encoding of the bytes. */
export function decodeBase64Url(text) {
  if (typeof text !== "string" || text.length % 4 === 1 || !B64URL.test(text)) return null;
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
  let binary;
  try {
    binary = atob(padded);
  } catch {
    return null;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return toBase64Url(bytes) === text ? bytes : null;
}

const keyCache = new Map();

async function cryptoKey(keyId, spec) {
  const cacheKey = `${keyId}:${spec.alg}:${spec.publicKey ?? spec.secret}`;
  if (keyCache.has(cacheKey)) return keyCache.get(cacheKey);
  let key;
  if (spec.alg === "EdDSA") {
    const raw = decodeBase64Url(spec.publicKey);
    if (!raw || raw.length !== 32) throw new Error(`key ${keyId}: publicKey must be 32 bytes of base64url`);
    key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  } else if (spec.alg === "HS256" || spec.alg === undefined) {
    const raw = typeof spec.secret === "string" ? decodeBase64Url(spec.secret.replace(/=+$/, "")) : spec.secret;
    if (!raw || raw.length < 32) throw new Error(`key ${keyId}: secret must be at least 32 bytes`);
    key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  } else {
    throw new Error(`key ${keyId}: unsupported alg ${spec.alg}`);
  }
  keyCache.set(cacheKey, key);
  return key;
}

function validClaims(claims) {
  const ints = [claims?.iat, claims?.exp].every((t) => Number.isInteger(t));
  const strings = typeof claims?.c === "string" && typeof claims?.v === "string";
  const assignments = claims?.a && typeof claims.a === "object" && !Array.isArray(claims.a) &&
    Object.values(claims.a).every((v) => typeof v === "string");
  const heldOut = claims?.o === undefined || (Array.isArray(claims.o) && claims.o.every((k) => typeof k === "string"));
  return ints && strings && assignments && heldOut;
}

// es2 payload reader: unsigned LEB128 varints in their shortest form, at most 5 bytes.
function payloadReader(bytes) {
  let at = 0;
  const take = (size) => {
    if (size > bytes.length - at) throw new Error("truncated");
    const chunk = bytes.subarray(at, at + size);
    at += size;
    return chunk;
  };
  const varint = () => {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const byte = take(1)[0];
      value += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) {
        if (byte === 0 && i > 0) throw new Error("varint not in its shortest form");
        return value;
      }
    }
    throw new Error("varint too long");
  };
  const text = () => new TextDecoder("utf-8", { fatal: true }).decode(take(varint()));
  return { take, varint, text, done: () => at === bytes.length };
}

const manifestCache = new Map();

async function manifestId(text) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  return toBase64Url(digest.subarray(0, MANIFEST_ID_BYTES));
}

function validManifest(doc) {
  return doc?.edgesplit_manifest === 1 && Array.isArray(doc.experiments) && doc.experiments.every(
    (e) => Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && Array.isArray(e[1]) &&
      e[1].length > 0 && e[1].every((v) => typeof v === "string"));
}

/** The manifest named by `id`, from `manifests` (object of texts or function), checked by hash. */
async function manifestFor(id, manifests) {
  if (manifestCache.has(id)) return manifestCache.get(id);
  let text = null;
  try {
    if (typeof manifests === "function") text = await manifests(id);
    else if (manifests && Object.prototype.hasOwnProperty.call(manifests, id)) text = manifests[id];
  } catch {
    return null;
  }
  if (typeof text !== "string" || (await manifestId(text)) !== id) return null;
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (!validManifest(doc)) return null;
  if (manifestCache.size >= 32) manifestCache.delete(manifestCache.keys().next().value);
  manifestCache.set(id, doc);
  return doc;
}

/** es2 claims in the es1 shape ({a, o, c, iat, exp, v} plus m, the manifest id), or a reason. */
async function compactClaims(payload, manifests) {
  let reader, flags, id, iat, exp, c, v, count;
  try {
    reader = payloadReader(payload);
    flags = reader.varint();
    id = toBase64Url(reader.take(MANIFEST_ID_BYTES));
    iat = reader.varint();
    exp = iat + reader.varint();
    c = reader.text();
    v = reader.text();
    count = reader.varint();
  } catch {
    return "malformed";
  }
  if (flags & ~TOKEN_FLAGS_KNOWN) return "malformed";
  const manifest = await manifestFor(id, manifests);
  if (!manifest) return "unknown_manifest";
  const experiments = manifest.experiments;
  if (count > experiments.length) return "malformed";
  const a = {};
  const o = [];
  const h = [];
  try {
    let position = -1;
    for (let i = 0; i < count; i++) {
      position += reader.varint() + 1;
      const code = reader.varint();
      if (position >= experiments.length || (code & ((1 << ENTRY_FLAG_BITS) - 1) & ~ENTRY_FLAGS_KNOWN)) return "malformed";
      const [key, variants] = experiments[position];
      const index = Math.floor(code / 2 ** ENTRY_FLAG_BITS);
      if (index >= variants.length) return "malformed";
      a[key] = variants[index];
      if (code & ENTRY_HELD_OUT) o.push(key);
      if (code & ENTRY_HOLDOUT) h.push(key);
    }
    if (!reader.done()) return "malformed";
  } catch {
    return "malformed";
  }
  const claims = { a, c, exp, iat, v, m: id };
  if (o.length) claims.o = o.sort();
  if (h.length) claims.h = h.sort();
  return claims;
}

/**
 * Check a token's form, key, signature and lifetime. Never throws for a bad token: returns
 * { ok, reason, claims, keyId }. `keys` maps key ids to { alg: "EdDSA", publicKey } or
 * { alg: "HS256", secret }; `verifyUntil` (epoch seconds) retires a key after rotation.
 */
export async function verifyDecision(token, keys, { now = Date.now() / 1000, leeway = 60, manifests = null } = {}) {
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH || !/^[\x00-\x7f]*$/.test(token)) return reject("malformed");
  const parts = token.split(".");
  if (parts.length !== 4) return reject("malformed");
  const [version, keyId, payloadText, signatureText] = parts;
  if (version !== "es1" && version !== "es2") return reject("unsupported_version");
  if (!KEY_ID.test(keyId)) return reject("malformed");
  const spec = Object.prototype.hasOwnProperty.call(keys, keyId) ? keys[keyId] : undefined;
  if (!spec) return reject("unknown_key", keyId);
  if (spec.verifyUntil !== undefined && now > spec.verifyUntil) return reject("unknown_key", keyId);
  const signature = decodeBase64Url(signatureText);
  const payload = decodeBase64Url(payloadText);
  if (!signature || !payload) return reject("malformed", keyId);
  const key = await cryptoKey(keyId, spec);
  const algorithm = spec.alg === "EdDSA" ? { name: "Ed25519" } : { name: "HMAC" };
  const valid = await crypto.subtle.verify(algorithm, key, signature, encoder.encode(`${version}.${keyId}.${payloadText}`));
  if (!valid) return reject("bad_signature", keyId);
  let claims;
  if (version === "es2") {
    claims = await compactClaims(payload, manifests);
    if (typeof claims === "string") return reject(claims, keyId);
  } else {
    try {
      claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    } catch {
      return reject("malformed", keyId);
    }
    if (!validClaims(claims)) return reject("malformed", keyId);
  }
  if (!(claims.exp - claims.iat >= 0 && claims.exp - claims.iat <= MAX_LIFETIME_SECONDS)) return reject("malformed", keyId);
  if (now >= claims.exp + leeway) return reject("expired", keyId);
  if (claims.iat > now + leeway) return reject("not_yet_valid", keyId);
  return { ok: true, reason: null, claims, keyId };
}

/** The variant of `experiment` in a verified result, or `fallback` (the control) otherwise. */
export function variantOf(result, experiment, fallback = "control") {
  return result?.ok ? result.claims.a[experiment] ?? fallback : fallback;
}
