// roiserve's comparison page: picks an image, a model and 2-4 (box head, mask
// pooler) variants, calls POST /v1/compare and draws what it answers. Plain
// JavaScript, no library, nothing fetched but this server's own API and files.
"use strict";

// ----- what the API says, in the documented stage order ---------------------------------

// StageLatency in proto/roiserve/v1/detection.proto: shared stages run once for
// all variants, the rest once per variant.
const SHARED_STAGES = ["queue_wait", "decode", "preprocess", "backbone", "rpn"];
const VARIANT_STAGES = ["box_pool", "box_head", "postprocess", "mask_pool", "mask_head", "paste", "encode"];
const STAGE_COLOURS = {
  queue_wait: "#b8c0cc", decode: "#8d99ae", preprocess: "#6c7a91", backbone: "#2f4b7c", rpn: "#4f7cac",
  box_pool: "#2a9d8f", box_head: "#57cc99", postprocess: "#a7c957",
  mask_pool: "#e9c46a", mask_head: "#f4a261", paste: "#e76f51", encode: "#9d4edd",
};
const CLASS_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
  "#9a6324", "#469990", "#800000"];
// Compare's defaults for the agreement (CompareRequest.match_iou and
// agreement_min_score); the page sends neither, so the server uses these too.
const MATCH_IOU = 0.5;
const AGREEMENT_MIN_SCORE = 0.5;
const MIN_VARIANTS = 2;
const MAX_VARIANTS = 4;

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function svgElement(tag, attributes = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function stagesInOrder(timings, order) {
  return order.filter((stage) => stage in timings).map((stage) => ({ stage, ms: timings[stage] }));
}

function variantName(variant) {
  return variant.mask_pooler ? `${variant.head} + mask ${variant.mask_pooler}` : variant.head;
}

// ----- talking to the server ------------------------------------------------------------

class ApiError extends Error {}

function authHeaders() {
  const token = $("token").value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// The message of an error answer: {"error": "..."} (the HTTP frontend's), or
// plain text from whatever stands between.
function errorMessage(status, body) {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed.error === "string") message = parsed.error;
  } catch (_) { /* plain text */ }
  const what = status === 401 || status === 403
    ? "The server refused the token: enter a valid one in the Token field (sent as Authorization: Bearer)."
    : status === 413 ? "The image is larger than the server accepts."
    : `The server answered ${status}.`;
  return message ? `${what}\n${message}` : what;
}

async function callApi(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  } catch (error) {
    throw new ApiError(`Cannot reach the server: ${error.message}`);
  }
  const body = await response.text();
  if (!response.ok) throw new ApiError(errorMessage(response.status, body));
  try {
    return JSON.parse(body);
  } catch (_) {
    throw new ApiError(`The server's answer to ${path} is not JSON.`);
  }
}

// GET /v1/models: each model with its heads, mask poolers and defaults.
async function loadModels() {
  const answer = await callApi("/v1/models");
  return answer.models ?? [];
}

// POST /v1/compare: the image as the body, the options in the query
// (variants as HEAD/POOLER,HEAD/POOLER, as roiserve-client's --compare).
async function compare(image, model, variants, scoreThreshold) {
  const list = variants.map((v) => (v.mask_pooler ? `${v.head}/${v.mask_pooler}` : v.head)).join(",");
  const query = new URLSearchParams({ model, variants: list, score_threshold: String(scoreThreshold) });
  const answer = await callApi(`/v1/compare?${query}`, {
    method: "POST",
    headers: { "Content-Type": image.type || "application/octet-stream" },
    body: image,
  });
  return readCompare(answer);
}

// The answer of /v1/compare (tools/response_records: roiserve-detect's
// detections JSON per variant) as the page uses it.
function readCompare(answer) {
  const image = answer.images[0];
  const variants = image.variants.map((variant) => ({
    head: variant.head,
    mask_pooler: variant.mask_pooler ?? "",
    detections: variant.detections ?? [],
    stages: stagesInOrder(variant.timings_ms ?? {}, VARIANT_STAGES),
    numProposals: variant.num_proposals,
    fingerprint: variant.proposals_fingerprint,
  }));
  return {
    model: answer.model,
    width: image.width,
    height: image.height,
    shared: stagesInOrder(image.timings_ms ?? {}, SHARED_STAGES),
    totalMs: image.timings_ms?.total,
    variants,
    agreements: image.agreements ?? null,
  };
}

// ----- COCO compressed RLE (pycocotools' rleFrString; detector/eval/rle_string.cpp) ------

// The run lengths of a compressed counts string: 5 bits a character from '0',
// 0x20 continues the number, 0x10 of the last group is the sign; from the
// third count on, each is stored as the difference to the count two before.
function rleCounts(text) {
  const counts = [];
  let position = 0;
  while (position < text.length) {
    let value = 0;
    let shift = 0;
    let more = true;
    while (more) {
      if (position === text.length) throw new Error("RLE counts end inside a number");
      const group = text.charCodeAt(position++) - 48;
      if (group < 0 || group > 63) throw new Error(`invalid RLE character at ${position - 1}`);
      value += (group & 0x1f) * 2 ** shift;
      more = (group & 0x20) !== 0;
      if (!more && (group & 0x10)) value -= 2 ** (shift + 5);
      shift += 5;
    }
    if (counts.length > 2) value += counts[counts.length - 2];
    counts.push(value);
  }
  return counts;
}

// A mask of height x width in row-major order (1 = object). COCO's runs
// alternate background and object, starting with background, down the columns.
function decodeRle(text, height, width) {
  const mask = new Uint8Array(height * width);
  let index = 0;
  let object = false;
  for (const run of rleCounts(text)) {
    if (object) {
      for (let p = index; p < index + run; ++p) mask[(p % height) * width + Math.floor(p / height)] = 1;
    }
    index += run;
    object = !object;
  }
  if (index !== height * width) throw new Error(`RLE covers ${index} pixels, not ${height} x ${width}`);
  return mask;
}

// ----- agreement (detector/eval/agreement.cpp, the same rule) ----------------------------

// torchvision's box_iou in float32, as the server computes it.
function boxIou(a, b) {
  const f = Math.fround;
  const areaA = f(f(a[2] - a[0]) * f(a[3] - a[1]));
  const areaB = f(f(b[2] - b[0]) * f(b[3] - b[1]));
  const w = Math.max(f(f(Math.min(a[2], b[2])) - f(Math.max(a[0], b[0]))), 0);
  const h = Math.max(f(f(Math.min(a[3], b[3])) - f(Math.max(a[1], b[1]))), 0);
  const inter = f(w * h);
  return f(inter / f(f(areaA + areaB) - inter));
}

// Pairs A's and B's detections: A's in decreasing score (stable), each with
// the unpaired B detection of its class that overlaps it most at IoU >=
// matchIou; detections scoring under minScore take no part. Returns the
// pairs as indices into a and b, and the agreement's numbers.
function pairDetections(a, b, matchIou = MATCH_IOU, minScore = AGREEMENT_MIN_SCORE) {
  const confidentA = a.map((_, i) => i).filter((i) => a[i].score >= minScore);
  const confidentB = b.map((_, j) => j).filter((j) => b[j].score >= minScore);
  const order = [...confidentA].sort((i, k) => a[k].score - a[i].score);  // sort is stable
  const taken = new Set();
  const pairs = [];
  let iouSum = 0;
  let scoreDeltaSum = 0;
  for (const i of order) {
    let best = -1;
    let bestIou = 0;
    for (const j of confidentB) {
      if (taken.has(j) || b[j].category_id !== a[i].category_id) continue;
      const iou = boxIou(a[i].bbox.map(Math.fround), b[j].bbox.map(Math.fround));
      if (iou >= matchIou && iou > bestIou) {
        bestIou = iou;
        best = j;
      }
    }
    if (best < 0) continue;
    taken.add(best);
    pairs.push({ a: i, b: best, iou: bestIou });
    iouSum += bestIou;
    scoreDeltaSum += Math.fround(b[best].score) - Math.fround(a[i].score);
  }
  const matched = pairs.length;
  return {
    pairs,
    matched,
    mean_iou: matched ? iouSum / matched : 0,
    mean_score_delta: matched ? scoreDeltaSum / matched : 0,
    only_a: confidentA.length - matched,
    only_b: confidentB.length - matched,
  };
}

// ----- drawing -----------------------------------------------------------------------

function classColour(categoryId) {
  return CLASS_COLOURS[(categoryId - 1 + CLASS_COLOURS.length) % CLASS_COLOURS.length];
}

function rgb(hex) {
  return [1, 3, 5].map((start) => parseInt(hex.slice(start, start + 2), 16));
}

// A detection's mask as a canvas the size of its box (masks are zero outside it).
function maskCanvas(detection, height, width) {
  const segmentation = detection.segmentation;
  if (!segmentation) return null;
  const [maskHeight, maskWidth] = segmentation.size;
  const mask = decodeRle(segmentation.counts, maskHeight, maskWidth);
  const x0 = Math.max(0, Math.floor(detection.bbox[0]));
  const y0 = Math.max(0, Math.floor(detection.bbox[1]));
  const x1 = Math.min(width, maskWidth, Math.ceil(detection.bbox[2]));
  const y1 = Math.min(height, maskHeight, Math.ceil(detection.bbox[3]));
  if (x1 <= x0 || y1 <= y0) return null;
  const canvas = document.createElement("canvas");
  canvas.width = x1 - x0;
  canvas.height = y1 - y0;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(canvas.width, canvas.height);
  const [r, g, b] = rgb(classColour(detection.category_id));
  for (let y = y0; y < y1; ++y) {
    for (let x = x0; x < x1; ++x) {
      if (!mask[y * maskWidth + x]) continue;
      const at = ((y - y0) * canvas.width + (x - x0)) * 4;
      pixels.data.set([r, g, b, 255], at);
    }
  }
  context.putImageData(pixels, 0, 0);
  return { canvas, x: x0, y: y0 };
}

// One variant's canvas: the image, its masks, boxes and labels; the
// highlighted detection drawn last and stronger, the others dimmed.
class Panel {
  constructor(index, variant, result, bitmap, onHover) {
    this.index = index;
    this.variant = variant;
    this.result = result;
    this.bitmap = bitmap;
    this.scale = 1;
    this.masks = variant.detections.map((d) => maskCanvas(d, result.height, result.width));
    this.highlighted = -1;
    this.build(onHover);
  }

  build(onHover) {
    const { variant, result } = this;
    this.canvas = element("canvas", {
      width: result.width, height: result.height, role: "img", "aria-label": `${variantName(variant)}: ${variant.detections.length} detections drawn on the image`,
    });
    this.canvas.addEventListener("mousemove", (event) => onHover(this.index, this.hit(event)));
    this.canvas.addEventListener("mouseleave", () => onHover(this.index, -1));
    this.items = variant.detections.map((d, i) => {
      const item = element("li", { tabindex: "0", "data-index": String(i) },
        element("span", { text: d.category }), element("span", { text: d.score.toFixed(3) }));
      item.style.borderLeft = `4px solid ${classColour(d.category_id)}`;
      item.addEventListener("mouseenter", () => onHover(this.index, i));
      item.addEventListener("focus", () => onHover(this.index, i));
      item.addEventListener("mouseleave", () => onHover(this.index, -1));
      item.addEventListener("blur", () => onHover(this.index, -1));
      return item;
    });
    this.note = element("p", { class: "match-note", "aria-live": "polite" });
    const count = element("span", { class: "count", text: `${variant.detections.length} detections` });
    const proposals = variant.fingerprint
      ? ` · ${variant.numProposals} proposals (fingerprint ${variant.fingerprint})` : "";
    this.node = element("figure", { class: "panel", "data-variant": String(this.index) },
      element("h3", { text: variantName(variant) }),
      this.canvas,
      element("figcaption", {}, count, proposals, this.note),
      element("ol", { class: "detections", "aria-label": `detections of ${variantName(variant)}` }, ...this.items));
  }

  // Draws at the canvas's size on the screen, so that labels keep their size
  // whatever the image's; called once the panel is in the page, and on resizes.
  fit() {
    const shown = this.canvas.clientWidth * (window.devicePixelRatio || 1);
    this.scale = Math.max(0.25, shown / this.result.width);
    this.canvas.width = Math.round(this.result.width * this.scale);
    this.canvas.height = Math.round(this.result.height * this.scale);
    this.draw();
  }

  // The smallest box under the pointer, or -1.
  hit(event) {
    const bounds = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - bounds.left) / bounds.width) * this.result.width;
    const y = ((event.clientY - bounds.top) / bounds.height) * this.result.height;
    let best = -1;
    let bestArea = Infinity;
    this.variant.detections.forEach((d, i) => {
      const [x1, y1, x2, y2] = d.bbox;
      const area = (x2 - x1) * (y2 - y1);
      if (x >= x1 && x <= x2 && y >= y1 && y <= y2 && area < bestArea) {
        best = i;
        bestArea = area;
      }
    });
    return best;
  }

  highlight(index, note) {
    this.highlighted = index;
    this.items.forEach((item, i) => item.classList.toggle("highlight", i === index));
    if (index >= 0) this.items[index].scrollIntoView({ block: "nearest" });
    this.note.textContent = note;
    this.draw();
  }

  draw() {
    const context = this.canvas.getContext("2d");
    const s = this.scale;
    const dpr = window.devicePixelRatio || 1;
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.bitmap) context.drawImage(this.bitmap, 0, 0, this.canvas.width, this.canvas.height);
    const any = this.highlighted >= 0;
    // In increasing score, so that the confident detections' labels lie on top.
    const order = this.variant.detections.map((_, i) => i).filter((i) => i !== this.highlighted).reverse();
    if (any) order.push(this.highlighted);
    for (const i of order) {
      const d = this.variant.detections[i];
      const strong = i === this.highlighted;
      const mask = this.masks[i];
      if (mask) {
        context.globalAlpha = strong ? 0.6 : any ? 0.12 : 0.35;
        context.drawImage(mask.canvas, mask.x * s, mask.y * s, mask.canvas.width * s, mask.canvas.height * s);
      }
      context.globalAlpha = strong || !any ? 1 : 0.35;
      const [x1, y1, x2, y2] = d.bbox.map((v) => v * s);
      context.strokeStyle = classColour(d.category_id);
      context.lineWidth = (strong ? 3 : 1.5) * dpr;
      context.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const label = `${d.category} ${d.score.toFixed(2)}`;
      const line = 15 * dpr;
      context.font = `bold ${11 * dpr}px system-ui, sans-serif`;
      const textWidth = context.measureText(label).width + 4 * dpr;
      const top = y1 >= line ? y1 - line : y1;
      const left = Math.max(0, Math.min(x1, this.canvas.width - textWidth));
      context.fillStyle = classColour(d.category_id);
      context.fillRect(left, top, textWidth, line);
      context.fillStyle = "#fff";
      context.fillText(label, left + 2 * dpr, top + 11 * dpr);
    }
    context.globalAlpha = 1;
  }
}

// ----- latency chart: the shared stages once, then each variant's own ---------------------

function latencyChart(result) {
  const rows = [{ key: "shared", label: "shared (once)", stages: result.shared },
    ...result.variants.map((v, i) => ({ key: `variant-${i}`, label: variantName(v), stages: v.stages }))];
  const sum = (stages) => stages.reduce((total, s) => total + s.ms, 0);
  const longest = Math.max(...rows.map((row) => sum(row.stages)), 1e-6);
  const labelWidth = 190;
  const valueWidth = 80;
  const barWidth = 520;
  const rowHeight = 26;
  const svg = svgElement("svg", {
    viewBox: `0 0 ${labelWidth + barWidth + valueWidth} ${rows.length * rowHeight + 4}`,
    role: "img", "aria-labelledby": "latency-title", id: "latency-chart",
  });
  rows.forEach((row, r) => {
    const group = svgElement("g", { class: "row", "data-row": row.key, transform: `translate(0 ${r * rowHeight + 2})` });
    const label = svgElement("text", { x: labelWidth - 8, y: 16, "text-anchor": "end" });
    label.textContent = row.label;
    group.append(label);
    let x = labelWidth;
    for (const { stage, ms } of row.stages) {
      const width = (ms / longest) * barWidth;
      const rect = svgElement("rect", { x, y: 2, width: Math.max(width, 0.5), height: rowHeight - 6,
        fill: STAGE_COLOURS[stage] ?? "#999", "data-stage": stage, "data-ms": String(ms) });
      const title = svgElement("title");
      title.textContent = `${stage}: ${ms.toFixed(2)} ms`;
      rect.append(title);
      group.append(rect);
      x += width;
    }
    const value = svgElement("text", { x: x + 6, y: 16 });
    value.textContent = `${sum(row.stages).toFixed(1)} ms`;
    group.append(value);
    svg.append(group);
  });
  const stagesShown = [...SHARED_STAGES, ...VARIANT_STAGES].filter((stage) =>
    rows.some((row) => row.stages.some((s) => s.stage === stage)));
  const legend = element("ul", { class: "legend" }, ...stagesShown.map((stage) => {
    const swatch = element("span");
    swatch.style.background = STAGE_COLOURS[stage];
    return element("li", {}, swatch, stage);
  }));
  const numbers = element("table", {},
    element("thead", {}, element("tr", {}, element("th", { scope: "col", text: "row" }),
      element("th", { scope: "col", text: "stage" }), element("th", { scope: "col", text: "ms" }))),
    element("tbody", {}, ...rows.flatMap((row) => row.stages.map(({ stage, ms }) => element("tr", {},
      element("td", { text: row.label }), element("td", { text: stage }), element("td", { text: ms.toFixed(2) }))))));
  const total = result.totalMs === undefined ? ""
    : `The whole call took ${result.totalMs.toFixed(1)} ms on the server. `;
  return [svg, legend, element("p", { class: "hint", text: `${total}Times are the server's, per stage.` }),
    element("details", {}, element("summary", { text: "The numbers" }), numbers)];
}

// ----- agreement table --------------------------------------------------------------------

function agreementRows(result, pairings) {
  const rows = [];
  for (let a = 0; a < result.variants.length; ++a) {
    for (let b = a + 1; b < result.variants.length; ++b) {
      const fromServer = result.agreements?.find((x) => x.a === a && x.b === b);
      rows.push({ a, b, ...(fromServer ?? pairings[a][b]) });
    }
  }
  return rows;
}

function agreementTable(result, pairings) {
  const body = $("agreement").querySelector("tbody");
  body.replaceChildren(...agreementRows(result, pairings).map((row) => element("tr", {},
    element("td", { text: variantName(result.variants[row.a]) }),
    element("td", { text: variantName(result.variants[row.b]) }),
    element("td", { text: String(row.matched) }),
    element("td", { text: row.mean_iou.toFixed(3) }),
    element("td", { text: (row.mean_score_delta >= 0 ? "+" : "") + row.mean_score_delta.toFixed(3) }),
    element("td", { text: String(row.only_a) }),
    element("td", { text: String(row.only_b) }))));
  const rule = `Same class, IoU ≥ ${MATCH_IOU}, paired greedily by A's score; detections scoring under `
    + `${AGREEMENT_MIN_SCORE} take no part.`;
  $("agreement-caption").textContent = result.agreements
    ? `${rule} Numbers from the server's Compare.`
    : `${rule} Computed in this page (the server's answer had none).`;
}

// ----- the page -----------------------------------------------------------------------

const state = { image: null, imageName: "", models: [], panels: [], pairings: [] };

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(message) {
  $("status").textContent = message;
}

function currentModel() {
  return state.models.find((m) => m.name === $("model").value);
}

function options(select, values, selected) {
  select.replaceChildren(...values.map((value) => element("option", { value, text: value })));
  if (values.includes(selected)) select.value = selected;
}

function variantRow(index, head, pooler) {
  const model = currentModel();
  const headSelect = element("select", { id: `head-${index}`, class: "head" });
  options(headSelect, model?.heads ?? [], head);
  const poolers = model?.mask_poolers ?? [];
  const poolerSelect = element("select", { id: `pooler-${index}`, class: "pooler" });
  options(poolerSelect, poolers.length ? poolers : ["none"], pooler);
  poolerSelect.disabled = !poolers.length;
  const remove = element("button", { type: "button", class: "remove", "aria-label": `Remove variant ${index + 1}`, text: "✕" });
  remove.addEventListener("click", () => {
    const rows = [...$("variants").children];
    if (rows.length <= MIN_VARIANTS) return;
    rows[index].remove();
    renumberVariants();
  });
  const swatch = element("span", { class: "swatch", "aria-hidden": "true" });
  return element("div", { class: "variant", role: "group", "aria-label": `Variant ${index + 1}` },
    swatch,
    element("div", { class: "field" }, element("label", { for: headSelect.id, text: `Box head ${index + 1}` }), headSelect),
    element("div", { class: "field" }, element("label", { for: poolerSelect.id, text: "Mask pooler" }), poolerSelect),
    remove);
}

function currentVariants() {
  return [...$("variants").children].map((row) => ({
    head: row.querySelector(".head").value,
    mask_pooler: row.querySelector(".pooler").disabled ? "" : row.querySelector(".pooler").value,
  }));
}

function renumberVariants() {
  const variants = currentVariants();
  $("variants").replaceChildren(...variants.map((v, i) => variantRow(i, v.head, v.mask_pooler)));
  const count = variants.length;
  $("add-variant").disabled = count >= MAX_VARIANTS;
  for (const button of $("variants").querySelectorAll(".remove")) button.disabled = count <= MIN_VARIANTS;
}

// Two variants to start with: the model's default head and the next one,
// both with the default mask pooler.
function resetVariants() {
  const model = currentModel();
  const heads = model?.heads ?? [];
  const defaultHead = model?.defaults?.head ?? heads[0];
  const other = heads.find((h) => h !== defaultHead) ?? defaultHead;
  const pooler = model?.defaults?.mask_pooler ?? model?.mask_poolers?.[0] ?? "";
  $("variants").replaceChildren(variantRow(0, defaultHead, pooler), variantRow(1, other, pooler));
  renumberVariants();
  const threshold = model?.defaults?.score_threshold;
  $("score-threshold").value = threshold === undefined ? "0.5" : String(Number(threshold.toFixed(4)));
}

async function refreshModels() {
  try {
    state.models = await loadModels();
  } catch (error) {
    showError(`Cannot list the models. ${error.message}`);
    return;
  }
  const select = $("model");
  const previous = select.value;
  select.replaceChildren(...state.models.map((m) =>
    element("option", { value: m.name, text: m.ready === false ? `${m.name} (not ready)` : m.name })));
  const preferred = state.models.find((m) => m.name === previous) ?? state.models.find((m) => m.is_default);
  if (preferred) select.value = preferred.name;
  if (!state.models.length) showError("The server has no model loaded.");
  else showError("");
  resetVariants();
}

function setImage(blob, name) {
  state.image = blob;
  state.imageName = name;
  $("image-name").textContent = `Image: ${name} (${Math.max(1, Math.round(blob.size / 1024))} KiB)`;
  for (const sample of document.querySelectorAll(".sample")) {
    sample.setAttribute("aria-pressed", String(sample.dataset.src === name));
  }
}

async function useSample(button) {
  try {
    const response = await fetch(button.dataset.src);
    if (!response.ok) throw new Error(`${button.dataset.src}: ${response.status}`);
    setImage(await response.blob(), button.dataset.src);
  } catch (error) {
    showError(`Cannot load the sample: ${error.message}`);
  }
}

// The image as the browser sees it, to draw on; null where it cannot decode
// it (the server may still: it decides, and says why not).
async function imageBitmap(blob) {
  try {
    return await createImageBitmap(blob);
  } catch (_) {
    return null;
  }
}

function onHover(panelIndex, detectionIndex) {
  const source = state.panels[panelIndex];
  state.panels.forEach((panel, j) => {
    if (detectionIndex < 0) return panel.highlight(-1, "");
    if (j === panelIndex) {
      const d = source.variant.detections[detectionIndex];
      return panel.highlight(detectionIndex, `${d.category} ${d.score.toFixed(3)}`);
    }
    const [a, b] = panelIndex < j ? [panelIndex, j] : [j, panelIndex];
    const pairing = state.pairings[a][b];
    const pair = pairing.pairs.find((p) => (panelIndex < j ? p.a : p.b) === detectionIndex);
    if (!pair) return panel.highlight(-1, `no match for ${variantName(source.variant)}'s detection`);
    const match = panelIndex < j ? pair.b : pair.a;
    const d = panel.variant.detections[match];
    return panel.highlight(match, `match: ${d.category} ${d.score.toFixed(3)}, IoU ${pair.iou.toFixed(3)}`);
  });
}

function pairAll(variants) {
  return variants.map((a, i) => variants.map((b, j) => (i < j ? pairDetections(a.detections, b.detections) : null)));
}

async function runCompare(event) {
  event.preventDefault();
  showError("");
  if (!state.image) {
    showError("Choose an image first: a file, a dropped file or a sample.");
    $("image-file").focus();
    return;
  }
  const threshold = Number($("score-threshold").value);
  if ($("score-threshold").value === "" || !(threshold >= 0 && threshold <= 1)) {
    showError("The score threshold must be a number from 0 to 1.");
    $("score-threshold").focus();
    return;
  }
  const button = $("compare");
  button.disabled = true;
  setStatus("Comparing…");
  try {
    const [result, bitmap] = await Promise.all([
      compare(state.image, $("model").value, currentVariants(), threshold), imageBitmap(state.image)]);
    showResult(result, bitmap);
    setStatus(`Compared ${result.variants.length} variants of ${result.model} on ${state.imageName}.`);
  } catch (error) {
    setStatus("");
    showError(error instanceof ApiError ? error.message : `Cannot show the answer: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

function showResult(result, bitmap) {
  state.pairings = pairAll(result.variants);
  state.panels = result.variants.map((variant, i) => new Panel(i, variant, result, bitmap, onHover));
  $("panels").replaceChildren(...state.panels.map((panel) => panel.node));
  $("results").hidden = false;
  for (const panel of state.panels) panel.fit();
  $("latency").replaceChildren(...latencyChart(result));
  agreementTable(result, state.pairings);
}

function selectView(tab) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
  // The report loads when first shown.
  if (tab.id === "tab-report" && !$("report-frame").getAttribute("src")) $("report-frame").src = "report/";
}

function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectView(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      selectView(next);
      next.focus();
    });
  });
}

function setUpImageChoice() {
  $("image-file").addEventListener("change", () => {
    const file = $("image-file").files[0];
    if (file) setImage(file, file.name);
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) setImage(file, file.name);
  });
  for (const button of document.querySelectorAll(".sample")) {
    button.addEventListener("click", () => useSample(button));
  }
}

function start() {
  setUpTabs();
  setUpImageChoice();
  $("model").addEventListener("change", resetVariants);
  $("add-variant").addEventListener("click", () => {
    const model = currentModel();
    const used = new Set(currentVariants().map((v) => v.head));
    const head = model?.heads?.find((h) => !used.has(h)) ?? model?.heads?.[0];
    $("variants").append(variantRow($("variants").children.length, head, model?.mask_poolers?.[0] ?? ""));
    renumberVariants();
  });
  $("compare-form").addEventListener("submit", runCompare);
  window.addEventListener("resize", () => state.panels.forEach((panel) => panel.fit()));
  // A token typed after a refusal: list the models again with it.
  $("token").addEventListener("change", refreshModels);
  refreshModels();
}

// For the browser test and the console: the page's own decoding and pairing.
window.roiserve = { decodeRle, pairDetections };
start();
