// gir serve: the restore page. Plain JavaScript, no external resources; talks to the API under /v1.
"use strict";

const POLL_MS = 500;
const STATUS_MS = 5000;
const DETECTED = 0.5; // the analyzer's detection threshold (gir.analysis.analyze.THRESHOLD)
const FINISHED = new Set(["done", "failed", "cancelled"]);
const UPLOAD_SHARE = 0.1; // of a photo's progress bar: the upload; the rest is the job's progress

// ------------------------------------------------------------------------------------- server and options
async function loadServerInfo() {
  const status = document.getElementById("server-status");
  try {
    const info = await (await fetch("/v1/health")).json();
    if (!document.getElementById("scale").options.length) fillOptions(info.options);
    status.textContent = `gir ${info.version} · ${info.workers} worker(s), ${info.running} running, ` +
      `${info.queued} waiting · up to ${Math.round(info.limits.max_upload_bytes / 2 ** 20)} MiB and ` +
      `${(info.limits.max_pixels / 1e6).toFixed(0)} MP per photo`;
  } catch (err) {
    status.textContent = "the server does not answer";
  }
}

function fillOptions(options) {
  for (const [id, values] of [["scale", options.scale], ["mode", options.mode]]) {
    const select = document.getElementById(id);
    for (const value of values) select.add(new Option(String(value), String(value)));
    select.disabled = values.length < 2;
    select.title = values.length < 2 ? `the restore API supports only ${values[0]} today` : "";
  }
  document.getElementById("families-hint").textContent =
    "Families for only / skip (comma-separated): " + options.families.join(", ");
}

function currentOptions() {
  const options = {};
  for (const id of ["scale", "mode", "only", "skip"]) {
    const value = document.getElementById(id).value.trim();
    if (value) options[id] = value;
  }
  return options;
}

// ----------------------------------------------------------------------------------------- one photo
class PhotoJob {
  constructor(file) {
    this.file = file;
    this.options = currentOptions();
    this.id = null;
    this.xhr = null;
    this.finished = false;
    const node = document.getElementById("job-template").content.firstElementChild.cloneNode(true);
    this.el = node;
    for (const name of ["job-name", "job-status", "job-progress", "cancel", "job-error", "result", "zoom",
                        "download", "viewport", "stage", "before", "after", "divider", "split", "no-preview",
                        "words", "explain-text"]) {
      this[name.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = node.querySelector("." + name);
    }
    this.jobName.textContent = file.name;
    this.jobName.title = file.name;
    this.cancel.addEventListener("click", () => this.cancelJob());
    document.getElementById("jobs").prepend(node);
  }

  setStatus(text, progress) {
    this.jobStatus.textContent = text;
    if (progress !== undefined) this.jobProgress.value = progress;
  }

  fail(kind, message) {
    this.finished = true;
    this.el.classList.add(kind);
    this.cancel.disabled = true;
    this.setStatus(kind);
    this.jobError.hidden = false;
    this.jobError.textContent = message;
  }

  upload() {
    const form = new FormData();
    form.append("file", this.file, this.file.name);
    for (const [key, value] of Object.entries(this.options)) form.append(key, value);
    const xhr = new XMLHttpRequest();
    this.xhr = xhr;
    xhr.open("POST", "/v1/jobs");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) this.setStatus(`uploading ${Math.round(100 * e.loaded / e.total)}%`,
                                             UPLOAD_SHARE * e.loaded / e.total);
    };
    xhr.onload = () => this.uploaded(xhr);
    xhr.onerror = () => this.fail("failed", "the upload did not reach the server");
    this.setStatus("uploading", 0);
    xhr.send(form);
  }

  uploaded(xhr) {
    this.xhr = null;
    const body = xhr.response || {};
    if (xhr.status === 202) {
      this.id = body.id;
      this.el.dataset.jobId = body.id;
      this.setStatus("queued", UPLOAD_SHARE);
      this.poll();
    } else if (xhr.status === 429) {
      const wait = Math.max(1, parseInt(xhr.getResponseHeader("Retry-After") || "5", 10));
      this.setStatus(`the queue is full; trying again in ${wait} s`, 0);
      this.retry = setTimeout(() => this.upload(), wait * 1000);
    } else {
      this.fail("failed", body.error || `the server answered ${xhr.status}`);
    }
  }

  async poll() {
    if (this.finished) return;
    let job;
    try {
      const response = await fetch(`/v1/jobs/${this.id}`);
      job = await response.json();
      if (!response.ok) return this.fail("failed", job.error || `the server answered ${response.status}`);
    } catch (err) {
      this.setStatus("the server does not answer; retrying");
      return setTimeout(() => this.poll(), POLL_MS * 4);
    }
    this.show(job);
    if (!FINISHED.has(job.status)) setTimeout(() => this.poll(), POLL_MS);
  }

  show(job) {
    const bar = UPLOAD_SHARE + (1 - UPLOAD_SHARE) * job.progress;
    if (job.status === "queued") {
      const ahead = job.queue_position ? ` (${job.queue_position} ahead)` : "";
      this.setStatus(`queued${ahead}`, bar);
    } else if (job.status === "running") {
      this.setStatus(`restoring… about ${Math.round(100 * job.progress)}%`, bar);
    } else if (job.status === "done") {
      this.finished = true;
      this.el.classList.add("done");
      this.cancel.disabled = true;
      this.setStatus("done", 1);
      this.showResult(job);
    } else {
      this.fail(job.status, job.error || job.status);
    }
  }

  async cancelJob() {
    clearTimeout(this.retry);
    if (this.xhr) {
      this.xhr.abort();
      return this.fail("cancelled", "cancelled during the upload");
    }
    if (!this.id) return this.fail("cancelled", "cancelled");
    const response = await fetch(`/v1/jobs/${this.id}`, {method: "DELETE"});
    const body = await response.json();
    if (response.ok) this.fail("cancelled", "cancelled");
    else this.setStatus(body.error || `could not cancel (${response.status})`);
  }

  // --- the result: before/after slider with zoom, explanation, download
  showResult(job) {
    this.result.hidden = false;
    this.before.src = URL.createObjectURL(this.file);
    this.after.src = job.result;
    this.before.onerror = this.after.onerror = () => { this.noPreview.hidden = false; };
    this.before.onload = () => this.applyZoom();
    this.download.href = job.result;
    this.download.download = job.download_name;
    this.split.addEventListener("input", () => this.setSplit(Number(this.split.value)));
    this.zoom.addEventListener("change", () => this.applyZoom());
    this.stage.addEventListener("pointerdown", (e) => this.drag(e));
    this.setSplit(Number(this.split.value));
    this.explain(job);
  }

  setSplit(percent) {
    this.after.style.clipPath = `inset(0 0 0 ${percent}%)`;
    this.divider.style.left = `${percent}%`;
    this.split.value = String(percent);
    this.el.dataset.split = String(percent);
  }

  drag(event) {
    const move = (e) => {
      const box = this.stage.getBoundingClientRect();
      this.setSplit(Math.round(Math.min(100, Math.max(0, 100 * (e.clientX - box.left) / box.width))));
    };
    this.stage.setPointerCapture(event.pointerId);
    move(event);
    this.stage.onpointermove = move;
    this.stage.onpointerup = () => { this.stage.onpointermove = null; };
  }

  applyZoom() {
    const natural = this.before.naturalWidth || this.after.naturalWidth;
    const value = this.zoom.value;
    if (value === "fit" || !natural) {
      this.stage.style.width = "100%";
      const shown = this.viewport.clientWidth / (natural || 1);
      this.stage.classList.toggle("pixels", shown >= 2);
    } else {
      // 100% = one image pixel per screen pixel (CSS pixels are devicePixelRatio screen pixels)
      this.stage.style.width = `${natural * Number(value) / window.devicePixelRatio}px`;
      this.stage.classList.toggle("pixels", Number(value) >= 2);
    }
  }

  explain(job) {
    this.words.replaceChildren();
    for (const [text, kind] of explainInWords(job.report)) {
      const li = document.createElement("li");
      li.textContent = text;
      if (kind) li.className = kind;
      this.words.append(li);
    }
    this.explainText.textContent = job.explanation || "";
  }
}

// ----------------------------------------------------------------------------------- the story in words
function strengthText(finding) {
  return Object.entries(finding)
    .filter(([key]) => key !== "p" && key !== "source")
    .map(([key, value]) => `${key.replace("_", " ")} ${Number(value.toPrecision(3))}`)
    .join(", ");
}

function familyName(name) {
  return {low_light: "low light", jpeg: "JPEG", resize: "low resolution", impulse: "salt-and-pepper noise",
          damage: "scratches or holes", demosaic: "demosaicking artefacts"}[name] || name;
}

/** [text, css class] lines: what the analysis found, what each expert did and why, what was left alone. */
function explainInWords(report) {
  const lines = [];
  const found = Object.entries(report.diagnosis.degradations)
    .filter(([, f]) => f.p >= DETECTED)
    .sort((a, b) => b[1].p - a[1].p);
  if (!found.length) {
    lines.push([`Found nothing to restore: the photo looks clean (${Math.round(100 * report.diagnosis.clean)}%).`]);
  } else {
    const parts = found.map(([name, f]) => {
      const s = strengthText(f);
      const source = f.source !== "network" ? `; source: ${f.source}` : "";
      return `${familyName(name)} (${Math.round(100 * f.p)}% sure${s ? ", " + s : ""}${source})`;
    });
    lines.push([`Found: ${parts.join("; ")}.`]);
  }
  for (const step of report.steps) {
    const families = step.families.map(familyName).join(" and ");
    const verdict = step.kept ? "kept it" : "undid it";
    const passes = step.passes > 1 ? `, ${step.passes} passes` : "";
    lines.push([`The ${step.expert} expert ran for ${families} and gir ${verdict}: ${step.why} ` +
                `(${step.seconds.toFixed(2)} s${passes}).`, step.kept ? "kept" : "undone"]);
  }
  const alone = {...report.plan.skipped, ...report.left_alone_later};
  for (const [family, why] of Object.entries(alone)) {
    lines.push([`Left alone: ${familyName(family)}, ${why}.`]);
  }
  if (!report.changed) {
    lines.push([report.steps.length ? "Every step was undone: the result is the original photo."
                                    : "The result is the very same photo."]);
  }
  lines.push([`Total ${report.seconds.toFixed(2)} s.`]);
  return lines;
}

// ------------------------------------------------------------------------------------------- choosing
function addFiles(files) {
  for (const file of files) new PhotoJob(file).upload();
}

function setUpDropZone() {
  const drop = document.getElementById("drop");
  const input = document.getElementById("files");
  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => { e.preventDefault(); addFiles(e.dataTransfer.files); });
}

setUpDropZone();
loadServerInfo();
setInterval(loadServerInfo, STATUS_MS);
