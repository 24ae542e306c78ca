// Reads {keys, manifests, now, tokens} on stdin; prints the JS verifier's answer for each token.
import { verifyDecision } from "../../js/edgesplit-verify.mjs";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { keys, manifests, now, tokens } = JSON.parse(input);
const results = [];
for (const token of tokens) results.push(await verifyDecision(token, keys, { now, manifests }));
process.stdout.write(JSON.stringify(results));
