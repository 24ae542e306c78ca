// Drives the official OpenFeature web SDK with the official OFREP web provider in Node.
//   node ofrep_web.mjs <baseUrl> <apiKey> '<context JSON>' '<[["flag","string"|"boolean"], ...]>'
// Prints one JSON line: {"ready": bool, "details": {flag: {value, variant, reason, errorCode, flagMetadata}}}
import { OpenFeature } from "@openfeature/web-sdk";
import { OFREPWebProvider } from "@openfeature/ofrep-web-provider";

const [baseUrl, apiKey, contextText, flagsText] = process.argv.slice(2);
const provider = new OFREPWebProvider({
  baseUrl,
  headers: apiKey ? [["Authorization", `Bearer ${apiKey}`]] : [],
  disableVisibilityRefresh: true,
});
let ready = true;
let error = null;
try {
  await OpenFeature.setContext(JSON.parse(contextText));
  await OpenFeature.setProviderAndWait(provider);
} catch (e) {
  ready = false;
  error = String(e && e.message ? e.message : e);
}
const client = OpenFeature.getClient();
const details = {};
for (const [flag, type] of JSON.parse(flagsText)) {
  const d = type === "boolean" ? client.getBooleanDetails(flag, false) : client.getStringDetails(flag, "DEFAULT-VALUE");
  details[flag] = {
    value: d.value,
    variant: d.variant ?? null,
    reason: d.reason ?? null,
    errorCode: d.errorCode ?? null,
    flagMetadata: d.flagMetadata ?? {},
  };
}
console.log(JSON.stringify({ ready, error, details }));
await OpenFeature.close();
