// Types for edgesplit-client.js (a classic script: it sets window.edgesplit).

/** One experiment whose variant changed within this browser session. */
export interface EdgesplitDrift {
  experiment: string;
  /** The variant this session saw first (and keeps, through the session pin). */
  expected: string;
  /** The variant the latest decision named. */
  observed: string;
  firstToken: string;
}

export interface EdgesplitClient {
  /** Experiment key -> variant, for the experiments this visitor is in (held-out ones omitted). */
  assignments: Record<string, string>;
  /** True when the token's signature was checked with the public keys in data-keys. */
  verified: boolean;
  drift: EdgesplitDrift[];
  /** Settles once the assignments are read (never on a page being reloaded to undo drift). */
  ready: Promise<EdgesplitClient>;
  variant(experiment: string, fallback?: string): string | undefined;
}

declare global {
  interface Window {
    edgesplit: EdgesplitClient;
  }
  interface DocumentEventMap {
    "edgesplit:ready": CustomEvent<EdgesplitClient>;
    "edgesplit:drift": CustomEvent<EdgesplitDrift>;
  }
}
