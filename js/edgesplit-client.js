// edgesplit browser client: the page's own assignments without another request, verified,
// kept stable for the browser session, and drift (the variant changing mid-session, as after a
// cache or config mix-up) reported once and never shown.
//
//   <script src="/__edgesplit/client.js"
//           data-keys='{"2026-11": {"alg": "EdDSA", "publicKey": "<base64url>"}}'></script>
//
// Put it in <head> without async/defer, so a drifted page is hidden before it paints. No build
// step; plain ES2017. It reads the readable `edgesplit_decision` cookie, verifies it with the
// public keys in data-keys (WebCrypto, via verify.mjs beside this file; without data-keys the
// assignments are read unverified and only the server checks them), remembers each
// experiment's first variant in sessionStorage, and when a later page says otherwise it:
//   1. hides the page, 2. posts one drift report to the track endpoint (both tokens, so the
//   server can check it), 3. sets the session pin cookie to the first token and reloads once;
//   edgesplit then serves the first variant for the rest of the session (while the experiment
//   runs). If the drift survives the reload (the experiment was paused) the page is shown.
//
// Compact (es2) tokens name experiments by position in a manifest: the client fetches it once
// from "manifest/<id>" beside this script and keeps it in sessionStorage, so later pages decode
// before they paint. A page whose manifest is not known yet, in a session that has seen
// experiments, stays hidden until the manifest is read (a new config: once per session).
//
// API: window.edgesplit.ready -> Promise<{assignments, verified, drift}> (never settles on a
//      page that is being reloaded to undo drift);
//      window.edgesplit.variant(experiment, fallback) after ready; events "edgesplit:ready",
//      "edgesplit:drift" on document.
(function () {
  "use strict";
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var base = script && script.src ? script.src : location.href;
  var cookieName = data.cookie || "edgesplit_decision";
  var pinCookie = data.pinCookie || "edgesplit_pin";
  var trackUrl = data.track || new URL("track", base).href;
  // An inline copy (the bootstrap edgesplit injects) has no src: it is told where these live.
  var verifyUrl = new URL(data.verify || "verify.mjs", data.verify ? location.href : base).href;
  var manifestUrl = new URL(data.manifests || "manifest/", data.manifests ? location.href : base).href;
  var FIRST = "edgesplit:first";
  var HOLD_MS = 3000;
  var root = document.documentElement;

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var pair = parts[i].trim();
      if (pair.slice(0, name.length + 1) === name + "=") return pair.slice(name.length + 1);
    }
    return null;
  }

  function payloadBytes(token) {
    var payload = token.split(".")[2].replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(payload), function (c) { return c.charCodeAt(0); });
  }

  // es2: varints (LEB128), the 12-byte manifest id, then (gap, variant << 3 | flags) pairs;
  // the layout is documented in docs/decision-tokens.md, and verify.mjs checks it strictly.
  function idAt(bytes, start) {
    var id = btoa(String.fromCharCode.apply(null, bytes.subarray(start, start + 12)));
    return id.replace(/\+/g, "-").replace(/\//g, "_");
  }

  function compactId(bytes) {
    var start = 1;
    while (bytes[start - 1] & 0x80) start++; // after the flags varint
    return idAt(bytes, start);
  }

  function compactClaims(bytes, manifestText) {
    var at = 0;
    function next() {
      var value = 0;
      for (var scale = 1; ; scale *= 128) {
        var byte = bytes[at++];
        if (byte === undefined) throw new Error("truncated");
        value += (byte & 0x7f) * scale;
        if (byte < 0x80) return value;
      }
    }
    function text() {
      var size = next();
      at += size;
      return new TextDecoder().decode(bytes.subarray(at - size, at));
    }
    next();
    var id = idAt(bytes, at);
    at += 12;
    var iat = next();
    var claims = { a: {}, o: [], iat: iat, exp: iat + next(), c: text(), v: text(), m: id };
    var experiments = JSON.parse(manifestText).experiments;
    for (var count = next(), position = -1; count > 0; count--) {
      position += next() + 1;
      var code = next();
      var entry = experiments[position];
      claims.a[entry[0]] = entry[1][Math.floor(code / 8)];
      if (code & 1) claims.o.push(entry[0]);
    }
    return claims;
  }

  function manifestKey(id) {
    return "edgesplit:manifest:" + id;
  }

  function unverifiedClaims(token, manifestText) {
    try {
      var bytes = payloadBytes(token);
      var claims = token.slice(0, 4) === "es2." ? compactClaims(bytes, manifestText) : JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims.a === "object" && typeof claims.v === "string" ? claims : null;
    } catch (e) {
      return null;
    }
  }

  function manifestId(token) {
    try {
      return token.slice(0, 4) === "es2." ? compactId(payloadBytes(token)) : null;
    } catch (e) {
      return null;
    }
  }

  function session(key, value) {
    try {
      if (value === undefined) return JSON.parse(sessionStorage.getItem(key) || "null");
      sessionStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      return null; // storage off (privacy mode): no drift detection, the page still works
    }
    return null;
  }

  function inExperiment(claims) {
    var held = claims.o || [];
    var result = {};
    Object.keys(claims.a).forEach(function (key) {
      if (held.indexOf(key) < 0) result[key] = claims.a[key];
    });
    return result;
  }

  function findDrift(first, claims) {
    var now = inExperiment(claims);
    return Object.keys(now).filter(function (key) {
      return first[key] && first[key].visitor === claims.v && first[key].variant !== now[key];
    }).map(function (key) {
      return { experiment: key, expected: first[key].variant, observed: now[key], firstToken: first[key].token };
    });
  }

  function reveal() {
    if (root.getAttribute("data-edgesplit-hold") !== null) {
      root.removeAttribute("data-edgesplit-hold");
      root.style.visibility = "";
    }
  }

  // Synchronous part: runs before the body paints.
  var token = readCookie(cookieName);
  var compact = token ? manifestId(token) : null;
  var manifestText = compact ? session(manifestKey(compact)) : null;
  var claims = token && (!compact || manifestText) ? unverifiedClaims(token, manifestText) : null;
  var first = session(FIRST) || {};
  var suspected = claims ? findDrift(first, claims) : [];
  var reloaded = session(FIRST + ":reloaded") || {};
  var hold = suspected.some(function (d) { return !reloaded[d.experiment + ":" + d.observed]; }) ||
    Boolean(compact && !manifestText && Object.keys(first).length);
  if (hold) {
    root.setAttribute("data-edgesplit-hold", "");
    root.style.visibility = "hidden";
    setTimeout(reveal, HOLD_MS); // fail open: never keep a page hidden for long
  }

  function keys() {
    if (!data.keys) return null;
    try {
      return JSON.parse(data.keys);
    } catch (e) {
      return null;
    }
  }

  function loadManifest() {
    if (!compact || manifestText) return Promise.resolve(manifestText);
    return fetch(manifestUrl + compact, { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (text) {
      if (text) session(manifestKey(compact), text);
      manifestText = text;
      return text;
    }).catch(function () { return null; });
  }

  function verify() {
    var keyring = keys();
    if (!token) return Promise.resolve({ claims: null, verified: false });
    return loadManifest().then(function (text) {
      claims = claims || unverifiedClaims(token, text);
      if (!claims) return { claims: null, verified: false };
      if (!keyring) return { claims: claims, verified: false };
      var manifests = {};
      if (compact && text) manifests[compact] = text;
      return import(verifyUrl).then(function (module) {
        return module.verifyDecision(token, keyring, { manifests: manifests });
      }).then(verified);
    });
  }

  function verified(result) {
    return { claims: result.ok ? result.claims : null, verified: result.ok, reason: result.reason };
  }

  function report(drift) {
    var body = JSON.stringify({
      type: "drift", experiment: drift.experiment, expected: drift.expected, observed: drift.observed,
      first_token: drift.firstToken, token: token,
    });
    var sent = fetch(trackUrl, {
      method: "POST", body: body, keepalive: true, credentials: "same-origin",
      headers: { "content-type": "application/json" },
    }).catch(function () { return null; });
    var timeout = new Promise(function (resolve) { setTimeout(resolve, 1000); });
    return Promise.race([sent, timeout]);
  }

  function pinAndReload(drifts) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = pinCookie + "=" + drifts[0].firstToken + "; Path=/; SameSite=Lax" + secure;
    drifts.forEach(function (d) { reloaded[d.experiment + ":" + d.observed] = true; });
    session(FIRST + ":reloaded", reloaded);
    location.replace(location.href);
  }

  var api = { assignments: {}, verified: false, drift: [] };
  api.variant = function (experiment, fallback) {
    return Object.prototype.hasOwnProperty.call(api.assignments, experiment) ? api.assignments[experiment] : fallback;
  };
  api.ready = verify().then(function (result) {
    var checked = result.claims;
    if (!checked) {
      reveal();
      return api;
    }
    api.assignments = inExperiment(checked);
    api.verified = result.verified;
    var drifts = findDrift(first, checked);
    var reported = session(FIRST + ":reported") || {};
    var fresh = drifts.filter(function (d) { return !reported[d.experiment + ":" + d.expected + ":" + d.observed]; });
    fresh.forEach(function (d) { reported[d.experiment + ":" + d.expected + ":" + d.observed] = true; });
    session(FIRST + ":reported", reported);
    api.drift = drifts;
    drifts.forEach(function (d) {
      document.dispatchEvent(new CustomEvent("edgesplit:drift", { detail: d }));
    });
    var retry = drifts.filter(function (d) { return !reloaded[d.experiment + ":" + d.observed]; });
    return Promise.all(fresh.map(report)).then(function () {
      if (retry.length && hold) {
        pinAndReload(retry);
        return new Promise(function () {}); // this page is being replaced: it is never "ready"
      }
      // Remember the first variant of experiments seen for the first time (or that the
      // server would not keep, e.g. after a pause): from now on they are what "stable" means.
      Object.keys(api.assignments).forEach(function (key) {
        var kept = first[key] && first[key].visitor === checked.v && first[key].variant === api.assignments[key];
        if (!kept && !retry.some(function (d) { return d.experiment === key; })) {
          first[key] = { variant: api.assignments[key], token: token, visitor: checked.v };
        }
      });
      session(FIRST, first);
      reveal();
      document.dispatchEvent(new CustomEvent("edgesplit:ready", { detail: api }));
      return api;
    });
  }).catch(function (error) {
    reveal();
    throw error;
  });
  window.edgesplit = api;
})();
