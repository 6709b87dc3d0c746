// Company operators: guards with capture status, enrolment, face/finger capture,
// issuance requests and card PDFs.
import { setupPage, api, t, h, say, keyFor, problemText, download, fmtDate } from "./lib/common.js";

const PAGE = "company";
const $ = (id) => document.getElementById(id);
let selected = null;
let guards = [];

for (let p = 1; p <= 10; p++) $("position").append(h("option", { value: String(p), text: String(p) }));
$("position").value = "2";

function captureSummary(b) {
  if (!b) return "";
  const fingers = (b.fingers || []).filter((f) => f.status === "enrolled").length;
  return `${t("company.face")}: ${b.face || "–"} · ${t("company.fingers")}: ${fingers} · ${b.complete ? t("company.complete") : t("company.incomplete")}`;
}

async function loadGuards() {
  const ul = $("guards"); ul.textContent = ""; say($("list-msg"), "");
  if (!keyFor(PAGE)) return;
  try {
    const page = await api(PAGE, "/v1/guards?limit=200");
    guards = page.items;
    if (!guards.length) { say($("list-msg"), t("company.none"), "info"); return; }
    for (const g of guards) {
      const status = h("span", { class: "capture-status" });
      const cert = h("span", { class: "cert-status" });
      const li = h("li", { "data-guard-id": String(g.id) },
        h("div", { class: "guard-row" },
          h("strong", { text: g.name }), " ", h("span", { class: "note", text: `#${g.id}` }),
          h("button", { type: "button", class: "small", "aria-label": `${t("company.select")} ${g.name}`, onclick: () => select(g) }, t("company.select"))),
        status, cert);
      ul.append(li);
      api(PAGE, `/v1/guards/${g.id}/biometrics`).then((b) => { g.bio = b; status.textContent = captureSummary(b); status.className = "capture-status " + (b.complete ? "ok" : "todo"); }).catch(() => {});
      api(PAGE, `/v1/guards/${g.id}/certificates`).then((c) => {
        const last = c.items[c.items.length - 1];
        cert.textContent = last ? `${t("company.cert")}: ${last.number} (${last.status}, ${fmtDate(last.expires_at)})` : "";
      }).catch(() => {});
    }
  } catch (e) { say($("list-msg"), problemText(e), "error"); }
}

async function refreshSelected() {
  if (!selected) return;
  try { const b = await api(PAGE, `/v1/guards/${selected.id}/biometrics`); $("sel-status").textContent = captureSummary(b); $("capture").dataset.complete = String(b.complete); }
  catch (e) { $("sel-status").textContent = problemText(e); }
}

function select(g) {
  selected = g;
  $("capture").hidden = false; $("capture").dataset.guardId = String(g.id);
  $("sel-name").textContent = `${g.name} (#${g.id})`;
  ["photo-msg", "finger-msg", "request-msg"].forEach((id) => say($(id), ""));
  refreshSelected();
  $("capture-h").scrollIntoView({ block: "start" });
}

function outcome(node, kind, body) {
  const q = body.quality == null ? "" : typeof body.quality === "object"
    ? " · " + Object.entries(body.quality).map(([k, v]) => `${k} ${v}`).join(", ") : ` · quality ${body.quality}`;
  if (body.status === "held") say(node, `${t("company.held")}: ${body.detail || ""}`, "warn");
  else say(node, `${t("company.enrolled")} (${kind})${q}`, "ok");
}

async function uploadPhoto(blob, name) {
  const fd = new FormData(); fd.append("photo", blob, name);
  say($("photo-msg"), "…", "info");
  try { const b = await api(PAGE, `/v1/guards/${selected.id}/face`, { method: "POST", form: fd }); outcome($("photo-msg"), t("company.face"), b); }
  catch (e) { say($("photo-msg"), `${t("company.rejected")}: ${problemText(e)}`, "error"); }
  refreshSelected(); loadGuards();
}

const ready = setupPage(PAGE, { onSignIn: loadGuards, roles: ["company_operator"], onSignOut: () => { $("guards").textContent = ""; $("capture").hidden = true; } });

$("enroll-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const body = { name: f.name.value.trim(), id_number: f.id_number.value.trim().toUpperCase() };
  if (f.phone.value.trim()) body.phone = f.phone.value.trim();
  if (f.company_id.value.trim()) body.company_id = Number(f.company_id.value.trim());
  try {
    const g = await api(PAGE, "/v1/guards", { method: "POST", json: body });
    say($("enroll-msg"), `${t("company.enrolled")}: ${g.name} (#${g.id})`, "ok");
    f.reset();
    await loadGuards();
    select(g);
  } catch (e) { say($("enroll-msg"), problemText(e), "error"); }
});

$("photo-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const file = $("photo").files[0];
  if (file) uploadPhoto(file, file.name);
});

let camStream = null;
$("webcam").addEventListener("click", async () => {
  try {
    camStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
    $("webcam-video").srcObject = camStream; await $("webcam-video").play(); $("webcam-box").hidden = false;
  } catch (e) { say($("photo-msg"), t("scan.nocamera") + ` (${e.name})`, "error"); }
});
$("snap").addEventListener("click", () => {
  const v = $("webcam-video"); const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight; c.getContext("2d").drawImage(v, 0, 0);
  c.toBlob((blob) => { uploadPhoto(blob, "webcam.jpg"); }, "image/jpeg", 0.92);
  if (camStream) camStream.getTracks().forEach((tr) => tr.stop());
  $("webcam-box").hidden = true;
});

$("finger-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("finger").files[0]; if (!file) return;
  const fd = new FormData(); fd.append("image", file, file.name);
  say($("finger-msg"), "…", "info");
  try { const b = await api(PAGE, `/v1/guards/${selected.id}/fingers/${$("position").value}`, { method: "POST", form: fd }); outcome($("finger-msg"), `${t("company.position")} ${b.position}, minutiae ${b.minutiae}`, b); }
  catch (e) { say($("finger-msg"), `${t("company.rejected")}: ${problemText(e)}`, "error"); }
  refreshSelected(); loadGuards();
});

$("request").addEventListener("click", async () => {
  try { const r = await api(PAGE, `/v1/guards/${selected.id}/certificate-requests`, { method: "POST", json: {} }); say($("request-msg"), `${t("company.requested")} (#${r.id})`, "ok"); }
  catch (e) { say($("request-msg"), problemText(e), "error"); }
});
$("card").addEventListener("click", async () => {
  try { await download(PAGE, `/v1/guards/${selected.id}/card.pdf`, `guard-${selected.id}-card.pdf`); }
  catch (e) { say($("request-msg"), problemText(e), "error"); }
});
document.addEventListener("langchange", () => { loadGuards(); refreshSelected(); });
ready.finally(() => { document.body.dataset.ready = "1"; });
