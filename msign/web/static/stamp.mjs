// The sign page's stamp preview: the chosen page of the first PDF, drawn by
// pdf.js (embedded, /static/pdfjs) from the file in the browser (nothing is
// uploaded before "Sign"), with the stamp's rectangle on it. Dragging the
// rectangle (or moving it with the arrow keys) sets the form's x and y: the
// stamp's lower-left corner in points from the page's lower-left corner.
// Choosing a corner again puts it back in that corner.
import * as pdfjsLib from "/static/pdfjs/pdf.min.mjs";

pdfjsLib.GlobalWorkerOptions.workerSrc = "/static/pdfjs/pdf.worker.min.mjs";

const $ = (id) => document.getElementById(id);
const form = $("sign-form");
const W = 200, H = 60, MARGIN = 30; // the stamp's size and corner margin (points), as on the server

if (form) {
  const file = $("file"), visible = $("visible"), pageIn = $("page"), corner = $("corner");
  const xIn = $("stamp-x"), yIn = $("stamp-y");
  const box = $("stamp-preview"), none = $("stamp-none"), canvas = $("stamp-canvas"), rect = $("stamp-box");
  let scale = 1, pw = 0, ph = 0; // page size in points
  let drawing = 0;

  const place = (x, y) => { // x, y in points from the lower-left corner
    x = Math.min(Math.max(0, x), pw - W);
    y = Math.min(Math.max(0, y), ph - H);
    rect.style.left = (x * scale) + "px";
    rect.style.top = ((ph - y - H) * scale) + "px";
    return [x, y];
  };
  const cornerXY = () => {
    const c = corner.value;
    return [c.endsWith("right") ? pw - MARGIN - W : MARGIN, c.startsWith("top") ? ph - MARGIN - H : MARGIN];
  };
  const current = () => (xIn.value !== "" && yIn.value !== "") ? [Number(xIn.value), Number(yIn.value)] : cornerXY();
  const set = (x, y) => {
    [x, y] = place(x, y);
    xIn.value = x.toFixed(1);
    yIn.value = y.toFixed(1);
  };

  async function draw() {
    const n = ++drawing;
    const f = file.files && file.files[0];
    box.hidden = true;
    none.hidden = !visible.checked || !!f;
    if (!visible.checked || !f) return;
    try {
      const doc = await pdfjsLib.getDocument({ data: new Uint8Array(await f.arrayBuffer()), isEvalSupported: false }).promise;
      const page = await doc.getPage(Math.min(Math.max(1, Number(pageIn.value) || 1), doc.numPages));
      const base = page.getViewport({ scale: 1, rotation: 0 });
      pw = base.width; ph = base.height;
      scale = Math.min(1, 420 / pw, (form.clientWidth - 40) / pw); // fits the form, even on a phone
      const vp = page.getViewport({ scale, rotation: 0 });
      canvas.width = Math.ceil(vp.width);
      canvas.height = Math.ceil(vp.height);
      await page.render({ canvasContext: canvas.getContext("2d"), viewport: vp }).promise;
      if (n !== drawing) return; // another file or page was chosen meanwhile
      rect.style.width = (W * scale) + "px";
      rect.style.height = (H * scale) + "px";
      place(...current());
      box.hidden = false;
      box.dataset.rendered = "true";
    } catch (e) {
      none.hidden = false;
    }
  }

  // Dragging.
  let drag = null;
  rect.addEventListener("pointerdown", (ev) => {
    drag = { x: ev.clientX, y: ev.clientY, from: current() };
    rect.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  rect.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    set(drag.from[0] + (ev.clientX - drag.x) / scale, drag.from[1] - (ev.clientY - drag.y) / scale);
  });
  rect.addEventListener("pointerup", () => { drag = null; });
  rect.addEventListener("keydown", (ev) => {
    const step = ev.shiftKey ? 20 : 5;
    const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[ev.key];
    if (!d) return;
    const [x, y] = current();
    set(x + d[0], y + d[1]);
    ev.preventDefault();
  });
  corner.addEventListener("change", () => { xIn.value = ""; yIn.value = ""; place(...cornerXY()); });
  for (const el of [file, visible, pageIn]) el.addEventListener("change", draw);
  draw();
}
