/** Types for edgesplit-verify.mjs: verifying edgesplit decision tokens with WebCrypto. */

export type KeySpec =
  | { alg: "EdDSA"; publicKey: string; verifyUntil?: number }
  | { alg?: "HS256"; secret: string | Uint8Array; verifyUntil?: number };

export interface DecisionClaims {
  /** experiment -> variant, for every experiment that applies to the request */
  a: Record<string, string>;
  /** experiments served their control without being in them (not for analysis) */
  o?: string[];
  /** experiments this visitor is held out of by the global holdout (also in o) */
  h?: string[];
  /** config version */
  c: string;
  /** issued at, expires at (epoch seconds) */
  iat: number;
  exp: number;
  /** visitor id */
  v: string;
  /** es2 tokens only: the id of the manifest that named the experiments */
  m?: string;
}

/** Manifest id -> its published text (checked against the id), as an object or a lookup. */
export type Manifests =
  | Record<string, string>
  | ((id: string) => string | null | undefined | Promise<string | null | undefined>);

export type Rejection =
  | "malformed"
  | "unsupported_version"
  | "unknown_key"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "unknown_manifest";

export type Verification =
  | { ok: true; reason: null; claims: DecisionClaims; keyId: string }
  | { ok: false; reason: Rejection; claims: null; keyId: string | null };

export function verifyDecision(
  token: unknown,
  keys: Record<string, KeySpec>,
  options?: { now?: number; leeway?: number; manifests?: Manifests | null },
): Promise<Verification>;

export function variantOf(result: Verification | null | undefined, experiment: string, fallback?: string): string;

export function decodeBase64Url(text: string): Uint8Array | null;
