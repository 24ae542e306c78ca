// Verifies edgesplit decision tokens in Node (>= 20) and in browsers, with WebCrypto only.
//
//   import { verifyDecision } from "./edgesplit-verify.mjs";
//   const result = await verifyDecision(token, { "2026-11": { alg: "EdDSA", publicKey: "<base64url>" } });
//   if (result.ok) render(result.claims.a["hero"]);   // else result.reason says why
//
// Token: es1.<key id>.<payload>.<signature>, base64url without padding (canonical spellings
// only). The algorithm comes from the caller's key for that id, never from the token. Browsers
// should hold only Ed25519 public keys; HS256 secrets belong on servers.

const REASONS = new Set(["malformed", "unsupported_version", "unknown_key", "bad_signature", "expired", "not_yet_valid"]);
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8192;
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

/**
 * Check a token's form, key, signature and lifetime. Never throws for a bad token: returns
 * { ok, reason, claims, keyId }. `keys` maps key ids to { alg: "EdDSA", publicKey } or
 * { alg: "HS256", secret }; `verifyUntil` (epoch seconds) retires a key after rotation.
 */
export async function verifyDecision(token, keys, { now = Date.now() / 1000, leeway = 60 } = {}) {
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH || !/^[\x00-\x7f]*$/.test(token)) return reject("malformed");
  const parts = token.split(".");
  if (parts.length !== 4) return reject("malformed");
  const [version, keyId, payloadText, signatureText] = parts;
  if (version !== "es1") return reject("unsupported_version");
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
  try {
    claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    return reject("malformed", keyId);
  }
  if (!validClaims(claims)) return reject("malformed", keyId);
  if (now >= claims.exp + leeway) return reject("expired", keyId);
  if (claims.iat > now + leeway) return reject("not_yet_valid", keyId);
  return { ok: true, reason: null, claims, keyId };
}

/** The variant of `experiment` in a verified result, or `fallback` (the control) otherwise. */
export function variantOf(result, experiment, fallback = "control") {
  return result?.ok ? result.claims.a[experiment] ?? fallback : fallback;
}
