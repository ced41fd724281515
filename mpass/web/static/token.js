// Login with a USB token through the local agent (semnat agent): list its
// certificates, get a one-time nonce from MPass, have the agent sign its
// login challenge for this site and that nonce, post it to MPass.
(function () {
  'use strict';
  var box = document.getElementById('token');
  var agent = box.dataset.agent, tx = box.dataset.tx, lang = box.dataset.lang;
  var select = document.getElementById('cert');
  var button = document.getElementById('token-button');
  var status = document.getElementById('token-status');
  var certs = [];

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? 'error' : '';
  }

  function json(resp) {
    return resp.json().catch(function () { return {}; }).then(function (body) {
      return { ok: resp.ok, body: body };
    });
  }

  fetch(agent + '/v1/certificates').then(json).then(function (r) {
    if (!r.ok) { throw new Error(r.body.title || 'agent'); }
    // Logins use the token's authentication certificates only; the
    // signing certificates sign documents (the agent refuses the other way).
    certs = (r.body || []).filter(function (c) { return c.authentication; });
    if (certs.length === 0) { say(box.dataset.noCert, true); return; }
    certs.forEach(function (c, i) {
      var o = document.createElement('option');
      o.value = String(i);
      o.textContent = c.subject;
      select.appendChild(o);
    });
    select.disabled = false;
    button.disabled = false;
  }).catch(function () { say(box.dataset.noAgent, true); });

  button.addEventListener('click', function () {
    var c = certs[Number(select.value)];
    if (!c) { return; }
    button.disabled = true;
    say(box.dataset.waiting, false);
    var q = '?tx=' + encodeURIComponent(tx) + '&lang=' + encodeURIComponent(lang);
    fetch('/login/token/nonce' + q, { method: 'POST', credentials: 'same-origin' }).then(json).then(function (r) {
      if (!r.ok) { throw { message: r.body.message || r.body.problem }; }
      return fetch(agent + '/v1/authenticate', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ certificateId: c.id, hash: 'SHA-256', nonce: r.body.nonce })
      }).then(json);
    }).then(function (r) {
      if (!r.ok) {
        if (r.body.type === 'urn:semnat:problem:agent-refused') { throw { message: box.dataset.refused }; }
        throw { message: box.dataset.failed + ' ' + (r.body.title || '') };
      }
      return fetch('/login/token' + q, {
        method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ certificate: c.certificate, chain: c.chain || [], signature: r.body.signature,
          hash: r.body.hash, scheme: r.body.scheme || '' })
      }).then(json);
    }).then(function (r) {
      if (!r.ok) { throw { message: r.body.message || r.body.problem }; }
      window.location.assign(r.body.next);
    }).catch(function (e) {
      say((e && e.message) || box.dataset.noAgent, true);
      button.disabled = false;
    });
  });
}());
