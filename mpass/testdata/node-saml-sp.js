// An independent SAML relying service for MPass's tests: @node-saml/node-saml
// (pinned in .ci/run) behind Node's own HTTP server. The Go test drives it
// as a browser would:
//   GET  /metadata  its SP metadata (signing certificate, ACS, SLO)
//   GET  /login     302 to MPass with a signed AuthnRequest (HTTP-Redirect)
//   POST /acs       checks MPass's Response; 200 with the profile as JSON
//   GET  /logout    302 to MPass with a signed LogoutRequest for the last login
//   GET  /slo       checks MPass's LogoutResponse (HTTP-Redirect); 200 {"loggedOut": true}
// Errors answer 400 with the library's message. Settings come from the
// environment: IDP_SSO, IDP_SLO, IDP_CERT (PEM), SP_KEY and SP_CERT (PEM).
'use strict';
const http = require('http');
const querystring = require('querystring');
const { SAML } = require('@node-saml/node-saml');

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const base = 'http://127.0.0.1:' + server.address().port;
  const saml = new SAML({
    entryPoint: process.env.IDP_SSO,
    logoutUrl: process.env.IDP_SLO,
    idpCert: process.env.IDP_CERT,
    issuer: base + '/metadata',
    callbackUrl: base + '/acs',
    logoutCallbackUrl: base + '/slo',
    privateKey: process.env.SP_KEY,
    publicCert: process.env.SP_CERT,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    identifierFormat: null,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    validateInResponseTo: 'always',
    audience: base + '/metadata',
  });
  let last = null; // the last login's profile, for logout
  server.on('request', (req, res) => {
    const fail = (e) => { res.writeHead(400, { 'Content-Type': 'text/plain' }); res.end(String(e && e.message || e)); };
    const json = (v) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(v)); };
    const body = () => new Promise((ok) => { let b = ''; req.on('data', (d) => { b += d; }); req.on('end', () => ok(querystring.parse(b))); });
    const url = new URL(req.url, base);
    if (req.method === 'GET' && url.pathname === '/metadata') {
      res.writeHead(200, { 'Content-Type': 'application/samlmetadata+xml' });
      // node-saml checks a LogoutResponse's InResponseTo only over
      // HTTP-Redirect (validateRedirectAsync); its metadata generator
      // always writes HTTP-POST for the logout service.
      res.end(saml.generateServiceProviderMetadata(null, process.env.SP_CERT)
        .replace(/(<SingleLogoutService Binding=")[^"]+/, '$1urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect'));
    } else if (req.method === 'GET' && url.pathname === '/login') {
      saml.getAuthorizeUrlAsync(url.searchParams.get('relay') || '', undefined, {})
        .then((u) => { res.writeHead(302, { Location: u }); res.end(); }, fail);
    } else if (req.method === 'POST' && url.pathname === '/acs') {
      body().then((f) => saml.validatePostResponseAsync(f).then((r) => {
        last = r.profile;
        json({ profile: r.profile, relayState: f.RelayState || '' });
      })).catch(fail);
    } else if (req.method === 'GET' && url.pathname === '/logout') {
      if (!last) { fail('nobody is logged in'); return; }
      saml.getLogoutUrlAsync(last, '', {}).then((u) => { res.writeHead(302, { Location: u }); res.end(); }, fail);
    } else if (req.method === 'GET' && url.pathname === '/slo') {
      saml.validateRedirectAsync(Object.fromEntries(url.searchParams), url.search.slice(1))
        .then((r) => json({ loggedOut: r.loggedOut }), fail);
    } else {
      res.writeHead(404); res.end();
    }
  });
  console.log('listening on ' + base);
});
