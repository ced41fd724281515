// semnat web pages: method switch and USB token signing through the local
// agent on the sign page; live status on the signing status page.
"use strict";

(function () {
  function $(id) { return document.getElementById(id); }

  // The page's words in its language (data-words on <body>, from the
  // server's locales/*.toml: js.*); {name} placeholders are filled here.
  let words = {};
  try { words = JSON.parse(document.body.dataset.words || "{}"); } catch (e) { /* none */ }
  function w(id, vars) {
    let s = words[id] || id;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }

  function say(el, text, isError) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  async function problemText(resp) {
    try {
      const p = await resp.json();
      if (p && (p.title || p.detail)) return (p.title || "") + (p.detail ? ": " + p.detail : "");
    } catch (e) { /* not JSON */ }
    return "HTTP " + resp.status;
  }

  // ---- USB token through the local agent (sign page, system request page) ----

  // nameOf is a person's name from an RFC 4514 subject: its CN without a
  // 13-digit number (an IDNP) and the tag before it; the subject itself
  // when it has no CN.
  function nameOf(dn) {
    const m = /(?:^|[,+])\s*CN=((?:\\.|[^,+])*)/i.exec(dn || "");
    if (!m) return dn || "";
    return m[1].replace(/\\(.)/g, "$1").replace(/\(?\s*(IDNP|SN|PNOMD)?[\s:=-]*\d{13}\s*\)?/gi, "").trim() || dn;
  }

  // loadCertificates fills sel with the agent's signing certificates and
  // returns them ([] when the agent is absent or has none).
  async function loadCertificates(agent, sel, status) {
    say(status, w("looking"));
    sel.textContent = "";
    let certs;
    try {
      const resp = await fetch(agent + "/v1/certificates", { headers: { "Accept": "application/json" } });
      if (!resp.ok) throw new Error(await problemText(resp));
      // Documents are signed with signing certificates only: a token's
      // authentication certificate is for logging in (the agent refuses it).
      certs = (await resp.json()).filter(function (c) { return !c.authentication; });
    } catch (e) {
      say(status, w("agent_missing") + " ", true);
      const help = $("agent-help");
      if (status && help) { // the way to install the agent, where the message is
        const a = document.createElement("a");
        a.href = help.href;
        a.textContent = help.textContent;
        status.appendChild(a);
      }
      return [];
    }
    if (!certs.length) {
      say(status, w("no_certs"), true);
      return [];
    }
    certs.forEach(function (c, i) {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = (c.label ? c.label + " – " : "") + nameOf(c.subject) + " (" + w("valid_until", { date: (c.notAfter || "").slice(0, 10) }) + ")";
      sel.appendChild(o);
    });
    say(status, w("choose_cert"));
    return certs;
  }

  // agentSign has the agent sign every document of a prepared request
  // (req: the answer of the server, with digests and nonces), one consent
  // and PIN per document, or with batch one for them all, and completes
  // it; false (after saying why) when nothing was signed.
  async function agentSign(agent, cert, req, status, withdraw, batch) {
    const item = function (d) { return { hash: d.hash, scheme: d.scheme || "", digest: d.digest, nonce: d.nonce, document: d.name }; };
    const calls = batch
      ? [{ path: "/v1/sign-batch", body: { certificateId: cert.id, documents: req.documents.map(item) },
           say: w("confirm_batch", { n: req.documents.length }) }]
      : req.documents.map(function (d) {
          return { path: "/v1/sign", body: Object.assign({ certificateId: cert.id }, item(d)),
                   say: w("confirm_doc", { name: d.name, n: d.n, total: req.documents.length }) };
        });
    const out = [];
    for (const call of calls) {
      say(status, call.say);
      let sr;
      try {
        sr = await fetch(agent + call.path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(call.body) });
      } catch (e) {
        withdraw();
        say(status, w("agent_stopped"), true); return false;
      }
      if (!sr.ok) {
        withdraw();
        let type = "";
        try { type = (await sr.clone().json()).type || ""; } catch (e) { /* not JSON */ }
        if (type.endsWith(":agent-refused")) { say(status, w("refused"), true); return false; }
        if (type.endsWith(":agent-pin-incorrect")) { say(status, w("pin_incorrect"), true); return false; }
        if (type.endsWith(":agent-pin-locked")) { say(status, w("pin_locked"), true); return false; }
        say(status, w("token_failed") + " (" + await problemText(sr) + ")", true); return false;
      }
      const s = await sr.json();
      (batch ? s.signatures : [s]).forEach(function (x, i) {
        out.push({ signature: x.signature, binding: x.binding, nonce: req.documents[out.length].nonce });
      });
    }
    say(status, w("finishing"));
    const resp = await fetch("/api/v1/sign-requests/" + encodeURIComponent(req.id) + "/complete", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ documents: out })
    });
    if (!resp.ok) { say(status, await problemText(resp), true); return false; }
    return true;
  }

  // tokenForm wires a form whose radio buttons (name) choose between the
  // mobile signature (the ordinary form POST) and the token (sign(cert)).
  function tokenForm(form, name, mobileBox, tokenBox, certSel, status, button, sign) {
    const agent = form.dataset.agent;
    let certs = [];
    function method() {
      const m = form.querySelector("input[name=" + name + "]:checked");
      return m ? m.value : "mobile";
    }
    async function switchMethod() {
      const token = method() === "token";
      mobileBox.hidden = token;
      tokenBox.hidden = !token;
      say(status, "");
      if (token) certs = await loadCertificates(agent, certSel, status);
    }
    form.querySelectorAll("input[name=" + name + "]").forEach(function (r) { r.addEventListener("change", switchMethod); });
    switchMethod();
    form.addEventListener("submit", function (ev) {
      if (method() !== "token") return; // mobile: the ordinary form POST
      ev.preventDefault();
      const cert = certs[Number(certSel.value)];
      if (!cert) { say(status, w("choose_first"), true); return; }
      button.disabled = true;
      sign(agent, cert).catch(function (e) { say(status, w("failed") + " (" + e.message + ")", true); })
        .finally(function () { button.disabled = false; });
    });
  }

  // ---- sign page ----
  const form = $("sign-form");
  if (form) {
    const status = $("sign-status");
    tokenForm(form, "method", $("mobile-fields"), $("token-fields"), $("cert"), status, $("sign-button"), async function (agent, cert) {
      const fd = new FormData(form);
      fd.delete("_csrf");
      fd.delete("cert-id");
      fd.set("method", "token");
      fd.set("certificate", cert.certificate);
      fd.set("chain", (cert.chain || []).join(","));
      say(status, w("preparing"));
      const resp = await fetch("/api/v1/sign-requests", { method: "POST", body: fd });
      if (!resp.ok) { say(status, await problemText(resp), true); return; }
      const req = await resp.json();
      const withdraw = function () { // nothing signed: the server deletes the files now
        fetch("/api/v1/sign-requests/" + encodeURIComponent(req.id), { method: "DELETE" }).catch(function () {});
      };
      if (await agentSign(agent, cert, req, status, withdraw, false)) window.location.assign("/sign/" + encodeURIComponent(req.id));
    });
  }

  // ---- a registered system's request page ----
  const msignForm = $("msign-form");
  if (msignForm) {
    const status = $("msign-status");
    const id = msignForm.dataset.id;
    tokenForm(msignForm, "Instrument", $("msign-mobile"), $("msign-token"), $("msign-cert"), status, $("msign-sign"), async function (agent, cert) {
      say(status, w("preparing"));
      const resp = await fetch("/" + encodeURIComponent(id) + "/token", {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": msignForm.elements["_csrf"].value },
        body: JSON.stringify({ certificate: cert.certificate, chain: cert.chain || [] })
      });
      if (!resp.ok) { say(status, await problemText(resp), true); return; }
      const req = await resp.json();
      // Nothing signed (refused, or the server refused the signatures):
      // the request fails and, once the person read why, the browser goes
      // back to the system.
      const withdraw = function () {
        return fetch("/" + encodeURIComponent(id) + "/cancel", { method: "POST", headers: { "X-CSRF-Token": msignForm.elements["_csrf"].value } })
          .catch(function () {});
      };
      const back = function () { window.location.assign("/" + encodeURIComponent(id)); };
      // One consent and PIN for the whole request (the agent lists every
      // document and digest).
      if (await agentSign(agent, cert, req, status, withdraw, true)) back();
      else window.setTimeout(back, 2500);
    });
  }

  // ---- status page ----
  const req = $("request");
  if (req && req.dataset.status === "pending") {
    const id = req.dataset.id;
    const poll = async function () {
      try {
        const resp = await fetch("/api/v1/sign-requests/" + encodeURIComponent(id), { headers: { "Accept": "application/json" } });
        if (resp.ok) {
          const r = await resp.json();
          // The page's words are the server's, in the page's language:
          // any change (another code, the end) reloads it.
          if (r.status !== "pending" || (r.verificationCode || "") !== (req.dataset.code || "")) { window.location.reload(); return; }
        }
      } catch (e) { /* try again */ }
      setTimeout(poll, 1000);
    };
    setTimeout(poll, 1000);
  }
  // ---- the time left to answer (status and request pages) ----
  const left = $("time-left");
  if (left && left.dataset.seconds) {
    const end = Date.now() + Number(left.dataset.seconds) * 1000;
    const two = function (n) { return (n < 10 ? "0" : "") + n; };
    const tick = function () {
      const s = Math.max(0, Math.round((end - Date.now()) / 1000));
      const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
      left.textContent = h > 0 ? h + " " + w("unit_h") + " " + two(m) + " " + w("unit_min")
        : m > 0 ? m + " " + w("unit_min") + " " + two(sec) + " " + w("unit_s") : sec + " " + w("unit_s");
      if (s > 0) setTimeout(tick, 1000);
    };
    tick();
  }
})();

// ---- a registered system's request ----
(function () {
  // Ended: the browser goes back to the system at once.
  const back = document.getElementById("return-form");
  if (back) { back.submit(); return; }
  // The phone is being asked: look again until it answers.
  const req = document.getElementById("msign-request");
  if (req && req.dataset.status === "pending") setTimeout(function () { window.location.reload(); }, 1500);
})();
