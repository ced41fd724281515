// Page previews of the documents a system asks to have signed, drawn by
// pdf.js (pdfjs-dist, embedded: /static/pdfjs/VERSION) under the page's
// strict CSP: no eval, its worker from this origin.
import * as pdfjsLib from "/static/pdfjs/pdf.min.mjs";

pdfjsLib.GlobalWorkerOptions.workerSrc = "/static/pdfjs/pdf.worker.min.mjs";

const maxPages = 3; // a preview, not a reader

// The page's words (data-words on <body>: js.* in locales).
let words = {};
try { words = JSON.parse(document.body.dataset.words || "{}"); } catch (e) { /* none */ }
const w = (id, vars) => Object.entries(vars || {}).reduce((s, [k, v]) => s.split("{" + k + "}").join(String(v)), words[id] || id);

for (const box of document.querySelectorAll("[data-preview]")) {
  try {
    const doc = await pdfjsLib.getDocument({ url: box.dataset.preview, isEvalSupported: false }).promise;
    const n = Math.min(doc.numPages, maxPages);
    for (let i = 1; i <= n; i++) {
      const page = await doc.getPage(i);
      const vp = page.getViewport({ scale: 0.5 });
      const canvas = document.createElement("canvas");
      canvas.width = Math.ceil(vp.width);
      canvas.height = Math.ceil(vp.height);
      canvas.className = "preview-page";
      canvas.setAttribute("aria-label", w("page_of", { n: i, total: doc.numPages }));
      box.appendChild(canvas);
      await page.render({ canvasContext: canvas.getContext("2d"), viewport: vp }).promise;
    }
    if (doc.numPages > n) {
      const more = document.createElement("p");
      more.textContent = w("more_pages", { n: doc.numPages - n });
      box.appendChild(more);
    }
    box.dataset.rendered = String(n);
  } catch (e) {
    box.textContent = w("preview_failed") + " (" + e.message + ")";
    box.dataset.rendered = "error";
  }
}
