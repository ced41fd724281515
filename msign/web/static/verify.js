// semnat verify page: verifies the chosen PDF in this browser with the
// verifier compiled to WebAssembly (semnat-verify-wasm), so that the file is
// not uploaded; draws the same cards as the server's report page. The
// "verify on the server" button, a browser without WebAssembly or a module
// that fails to start fall back to the form's ordinary upload.
"use strict";

(function () {
  const box = document.getElementById("verify-local");
  const form = document.getElementById("verify-form");
  if (!box || !form) return;
  let words = {};
  try { words = JSON.parse(box.dataset.words || "{}"); } catch (e) { /* none */ }
  const w = (id) => words[id] || id;
  const lang = document.documentElement.lang || "ro";
  const canLocal = typeof WebAssembly === "object" && typeof Go === "function";

  let ready = null; // the started module and the trust anchors
  function start() {
    if (!ready) {
      ready = (async function () {
        const go = new Go();
        const t0 = performance.now();
        const trust = fetch(box.dataset.trust); // meanwhile
        const resp = fetch(box.dataset.module);
        // Compiled while it downloads (application/wasm); the browser
        // caches the compiled code of the versioned, immutable URL.
        const mod = WebAssembly.instantiateStreaming
          ? await WebAssembly.instantiateStreaming(resp, go.importObject)
          : await WebAssembly.instantiate(await (await resp).arrayBuffer(), go.importObject);
        const t1 = performance.now();
        go.run(mod.instance); // runs the Go runtime and package init, defines semnatVerify, stays alive
        // The runtime may hand control back to the page before main has
        // run (a timer during init): wait for the function it defines.
        while (typeof globalThis.semnatVerify !== "function") {
          if (go.exited) throw new Error("the verifier stopped while starting");
          await new Promise(function (r) { setTimeout(r, 0); });
        }
        // Phases for bench/side-wasm.sh: download+compile, Go start.
        box.dataset.compileMs = String(Math.round(t1 - t0));
        box.dataset.initMs = String(Math.round(performance.now() - t1));
        const t = await trust;
        if (!t.ok) throw new Error("trust anchors: HTTP " + t.status);
        return await t.text();
      })();
      ready.catch(function () { ready = null; });
    }
    return ready;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function verdictClass(ind) {
    return ind === "TOTAL-PASSED" ? "passed" : ind === "TOTAL-FAILED" ? "failed" : "indeterminate";
  }
  function tech(ind, sub) { return ind + (sub ? " / " + sub : ""); }
  function when(iso) {
    try {
      return new Intl.DateTimeFormat(lang, { timeZone: "Europe/Chisinau", dateStyle: "long", timeStyle: "medium" }).format(new Date(iso));
    } catch (e) { return iso; }
  }
  // The name and organisation of a certificate subject (RFC 4514 string).
  function person(dn) {
    const f = {};
    (dn || "").split(/,(?=[A-Za-z.0-9]+=)/).forEach(function (part) {
      const i = part.indexOf("=");
      if (i > 0) f[part.slice(0, i).trim().toUpperCase()] = part.slice(i + 1).trim();
    });
    const given = f.GIVENNAME || f.GN, sur = f.SURNAME || f.SN;
    return { name: given && sur ? given + " " + sur : (f.CN || ""), org: f.O || "" };
  }
  function dd(dl, term, value, cls) {
    dl.append(el("dt", "", term));
    dl.append(el("dd", cls || "", value));
  }

  // draw is report.html's cards for a report.
  function draw(rep, json) {
    box.replaceChildren();
    box.append(el("h1", "", w("report.title")));
    const sigs = rep.signatures || [];
    const vc = verdictClass(rep.indication);
    const sec = el("section", "verdict " + vc);
    sec.id = "verdict";
    sec.setAttribute("role", "status");
    sec.append(el("h2", "", sigs.length === 0 ? w("report.none") : vc === "passed" ? w("report.all_valid") : vc === "failed" ? w("report.some_invalid") : w("report.unconfirmed")));
    const p = el("p", "", (rep.file || "") + " · " + (words["count." + sigs.length] || String(sigs.length)) + " · ");
    p.append(el("span", "tech", tech(rep.indication, rep.subIndication)));
    sec.append(p);
    box.append(sec);
    sigs.forEach(function (s, i) {
      const c = verdictClass(s.indication);
      const art = el("article", "sig " + c);
      const h = el("h3", "", (s.kind === "timestamp" ? w("report.doc_timestamp") : w("report.signature").replace("{N}", i + 1)) + ": ");
      h.id = "sig-" + i;
      art.setAttribute("aria-labelledby", h.id);
      h.append(el("span", "badge", w("verdict." + c)), " ", el("small", "tech", tech(s.indication, s.subIndication)));
      art.append(h);
      if (s.subIndication) art.append(el("p", "why", words["sub." + s.subIndication] || w("sub.generic")));
      const dl = el("dl");
      if (s.signer) {
        const ps = person(s.signer.subject);
        dd(dl, s.kind === "timestamp" ? w("report.tsa") : w("report.signer"), ps.name || ps.org, "signer");
        if (s.signer.idnp) dd(dl, "IDNP", s.signer.idnp);
        if (ps.org && ps.name) dd(dl, w("report.organization"), ps.org, "org");
        if (s.signer.idno) dd(dl, "IDNO", s.signer.idno);
      }
      let t;
      if (s.timestamp && s.timestamp.valid) t = when(s.timestamp.time) + " " + w("report.timestamped");
      else if (s.claimedSigningTime) t = when(s.claimedSigningTime) + " " + w("report.claimed");
      else if (s.bestSignatureTime && !s.bestSignatureTime.startsWith("0001-")) t = when(s.bestSignatureTime) + " " + w("report.not_timestamped");
      else t = w("report.unknown_time");
      dd(dl, w("report.time"), t, "when");
      dd(dl, w("report.level"), s.level);
      if (s.reason) dd(dl, w("report.reason"), s.reason);
      dd(dl, w("report.whole"), s.coversWholeDocument ? w("report.whole_yes") : w("report.whole_no"));
      // Where the revocation data came from (the report's "origin").
      const origin = function (term, ri, cls) {
        if (!ri || !ri.origin) return;
        dd(dl, w(term), w("report.origin_" + ri.origin), cls);
        dl.lastChild.dataset.origin = ri.origin;
      };
      origin("report.revocation", s.revocation, "revocation-origin");
      origin("report.tsa_revocation", s.timestamp && s.timestamp.revocation, "tsa-revocation-origin");
      art.append(dl);
      if ((s.reasons && s.reasons.length) || s.signer) {
        const det = el("details", "tech-details");
        det.append(el("summary", "", w("report.details")));
        if (s.reasons && s.reasons.length) {
          const ul = el("ul", "reasons");
          s.reasons.forEach(function (r) { ul.append(el("li", "", r)); });
          det.append(ul);
        }
        if (s.signer) det.append(el("p", "tech", s.signer.subject));
        art.append(det);
      }
      box.append(art);
    });
    const done = el("p", "local-done", w("verify.local_done"));
    done.id = "local-done";
    box.append(done);
    const links = el("p");
    const a = el("a", "", w("report.download_json") === "report.download_json" ? "JSON" : w("report.download_json"));
    a.id = "report-json";
    a.href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
    a.download = "verification-report.json";
    const again = el("a", "", w("report.another"));
    again.href = "/verify";
    links.append(a, " · ", again);
    box.append(links);
    box.dataset.report = json;
    box.hidden = false;
  }

  function fail(err) {
    box.replaceChildren();
    const d = el("div", "alert error");
    d.setAttribute("role", "alert");
    d.id = "local-error";
    d.append(el("p", "", w("verify.local_failed")));
    const det = el("details");
    det.append(el("summary", "", w("report.details")), el("p", "tech", String(err && err.message || err)));
    d.append(det);
    box.append(d);
    box.hidden = false;
    box.dataset.state = "failed";
  }

  // revocation asks the server's revocation proxy about one certificate:
  // req is an OCSP request holding its CertID only (issuer name and key
  // hashes, serial number), built by the module; the answer is the
  // responder's signed OCSP response, which the module checks itself.
  const revocation = box.dataset.revocation ? async function (req) {
    const r = await fetch(box.dataset.revocation, {
      method: "POST", body: req, credentials: "omit",
      headers: { "Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response" },
      signal: AbortSignal.timeout(20000),
    });
    if (!r.ok) {
      let detail = "";
      try { detail = (await r.json()).detail || ""; } catch (e) { /* not a problem document */ }
      throw new Error("revocation proxy: HTTP " + r.status + (detail ? ": " + detail : ""));
    }
    return new Uint8Array(await r.arrayBuffer());
  } : null;

  if (canLocal) start().catch(function () { /* shown at the first verification */ });
  form.addEventListener("submit", async function (ev) {
    if (!canLocal || (ev.submitter && ev.submitter.id === "verify-server")) return; // the upload
    const file = document.getElementById("file").files[0];
    if (!file) return;
    ev.preventDefault();
    const t0 = performance.now();
    box.dataset.state = "working";
    box.replaceChildren(el("p", "hint", w("verify.local_working")));
    box.hidden = false;
    try {
      const trust = await start();
      const bytes = new Uint8Array(await file.arrayBuffer());
      const tv = performance.now();
      const json = await globalThis.semnatVerify(bytes, trust, file.name, revocation);
      box.dataset.verifyMs = String(Math.round(performance.now() - tv)); // the module's own work
      draw(JSON.parse(json), json);
      box.dataset.ms = String(Math.round(performance.now() - t0)); // for bench/side-wasm.sh
      box.dataset.state = "done";
    } catch (err) {
      fail(err);
    }
  });
})();
