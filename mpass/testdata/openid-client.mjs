// An independent OpenID Connect client (npm openid-client, pinned in
// .ci/run) driven by mpass/oidc_node_test.go: discovery, the code flow with
// PKCE, state and nonce, the ID token checked (signature against the JWKS
// too: enableNonRepudiationChecks), userinfo, then the same code again.
//
// node openid-client.mjs ISSUER CLIENT-ID CLIENT-SECRET REDIRECT-URI
// stdout line 1: {"authorize": URL}; stdin: the callback URL the browser
// reached; stdout line 2: {"claims", "userinfo", "reuse"}.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';

const oc = await import(pathToFileURL(path.join(process.env.OPENID_CLIENT_DIR, 'node_modules/openid-client/build/index.js')).href);
const [issuer, clientId, secret, redirect] = process.argv.slice(2);
const config = await oc.discovery(new URL(issuer), clientId, undefined, oc.ClientSecretBasic(secret),
	{ execute: [oc.allowInsecureRequests, oc.enableNonRepudiationChecks] });
const verifier = oc.randomPKCECodeVerifier();
const state = oc.randomState();
const nonce = oc.randomNonce();
const url = oc.buildAuthorizationUrl(config, {
	redirect_uri: redirect, scope: 'openid profile', state, nonce,
	code_challenge: await oc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
});
console.log(JSON.stringify({ authorize: url.href }));

const rl = readline.createInterface({ input: process.stdin });
const line = await new Promise((resolve) => rl.once('line', resolve));
rl.close();
const callback = new URL(line);
const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
const tokens = await oc.authorizationCodeGrant(config, callback, checks);
const claims = tokens.claims();
const userinfo = await oc.fetchUserInfo(config, tokens.access_token, claims.sub);
let reuse = 'accepted';
try {
	await oc.authorizationCodeGrant(config, callback, checks);
} catch (e) {
	reuse = e.error || e.code || String(e);
}
console.log(JSON.stringify({ claims, userinfo, reuse }));
