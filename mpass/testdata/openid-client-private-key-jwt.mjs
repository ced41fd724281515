// npm openid-client (pinned in .ci/run) as a client that authenticates at
// MPass's token endpoint with private_key_jwt, driven by
// mpass/oidc_node_pkjwt_test.go. openid-client signs its own client
// assertions (ES256, aud = issuer, a fresh jti, iat, nbf, exp) with the
// private JWK in $CLIENT_JWK (kid $CLIENT_KID); the ID token is checked
// against MPass's JWKS (enableNonRepudiationChecks).
//
// node openid-client-private-key-jwt.mjs ISSUER CLIENT-ID REDIRECT-URI POST-LOGOUT-URI
// Two rounds, each: stdout {"authorize": URL}; stdin: the callback URL the
// browser reached; stdout {"claims"} or {"error", "status"}. In the second
// round openid-client's assertion carries the first one's jti again (a
// replay): MPass must refuse it. Last: stdout {"endSession": URL}, the
// RP-initiated logout openid-client builds with the first ID token.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';

const oc = await import(pathToFileURL(path.join(process.env.OPENID_CLIENT_DIR, 'node_modules/openid-client/build/index.js')).href);
const [issuer, clientId, redirect, postLogout] = process.argv.slice(2);
const key = await crypto.subtle.importKey('jwk', JSON.parse(process.env.CLIENT_JWK),
	{ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
let firstJti = null;
let replay = false;
const auth = oc.PrivateKeyJwt({ key, kid: process.env.CLIENT_KID }, {
	[oc.modifyAssertion]: (_header, payload) => {
		if (firstJti === null) firstJti = payload.jti;
		if (replay) payload.jti = firstJti;
	},
});
const config = await oc.discovery(new URL(issuer), clientId, { token_endpoint_auth_method: 'private_key_jwt' }, auth,
	{ execute: [oc.allowInsecureRequests, oc.enableNonRepudiationChecks] });

const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
let idToken = null;
for (const round of [1, 2]) {
	replay = round === 2;
	const verifier = oc.randomPKCECodeVerifier();
	const state = oc.randomState();
	const nonce = oc.randomNonce();
	const url = oc.buildAuthorizationUrl(config, {
		redirect_uri: redirect, scope: 'openid profile', state, nonce,
		code_challenge: await oc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
	});
	console.log(JSON.stringify({ authorize: url.href }));
	const { value } = await lines.next();
	const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
	try {
		const tokens = await oc.authorizationCodeGrant(config, new URL(value), checks);
		idToken ||= tokens.id_token;
		console.log(JSON.stringify({ claims: tokens.claims() }));
	} catch (e) {
		console.log(JSON.stringify({ error: e.error || e.code || String(e), status: e.status || 0, message: String(e.message || e) + (e.cause ? ': ' + JSON.stringify(e.cause) : '') }));
	}
}
const end = oc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogout, state: 'bye-1' });
console.log(JSON.stringify({ endSession: end.href }));
rl.close();
