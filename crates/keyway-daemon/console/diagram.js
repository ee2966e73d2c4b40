// The site as a diagram: areas in columns by their distance from the outside, doors as
// connectors from box edge to box edge (never through a box), labelled with names, not ids,
// boxes as wide as their longest name, and a legend. Used live and by the planner.

import { text } from "./format.js";

/** What each door colour means; `look` returns one of these keys. */
export const LOOKS = {
  calm: { colour: "#4b5f7a", words: "locked (normal)" },
  open: { colour: "#2e7d32", words: "unlocked for a normal reason" },
  attention: { colour: "#b45309", words: "needs a look" },
  alarm: { colour: "#b3261e", words: "alarm or no power" },
};

export function legend(element) {
  element.innerHTML = Object.values(LOOKS)
    .map((l) => `<span><svg width="14" height="14" aria-hidden="true"><circle cx="7" cy="7" r="6" fill="${l.colour}"/></svg> ${text(l.words)}</span>`)
    .join("") + '<span><svg width="14" height="14" aria-hidden="true"><rect x="1" y="1" width="12" height="12" fill="#f9d7d4" stroke="#999"/></svg> area that cannot exit</span>';
}

const CHAR = 7.2;

/**
 * Draws `site` into `svg`. `look(doorId)` gives a door's key in LOOKS and its state words;
 * `areas` (from a planned moment) marks areas that cannot exit, or open to the exterior.
 */
export function draw(svg, site, look, areas) {
  const depth = {};
  site.areas.filter((a) => a.exterior).forEach((a) => (depth[a.id] = 0));
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of site.doors) {
      for (const [from, to] of [[d.inside, d.outside], [d.outside, d.inside]]) {
        if (depth[to] !== undefined && (depth[from] === undefined || depth[from] > depth[to] + 1)) {
          depth[from] = depth[to] + 1;
          changed = true;
        }
      }
    }
  }
  const columns = {};
  for (const a of site.areas) (columns[depth[a.id] ?? 99] ||= []).push(a);
  const keys = Object.keys(columns).map(Number).sort((x, y) => x - y);
  const width = Math.max(140, ...site.areas.map((a) => a.name.length * CHAR + 20));
  const gapX = Math.max(110, ...site.doors.map((d) => d.name.length * CHAR * 0.9 + 30));
  const height = 48, gapY = 34;
  const position = {};
  keys.forEach((key, column) =>
    columns[key].forEach((a, row) => (position[a.id] = { x: 10 + column * (width + gapX), y: 10 + row * (height + gapY), column })));
  const rows = Math.max(...keys.map((k) => columns[k].length));
  const totalWidth = 20 + keys.length * width + (keys.length - 1) * gapX + gapX / 2;
  const totalHeight = 20 + rows * (height + gapY);
  svg.setAttribute("viewBox", `0 0 ${totalWidth} ${totalHeight}`);
  // Boxes and placed labels, so that no label is put over another or over an area.
  const taken = site.areas.map((a) => ({ x: position[a.id].x, y: position[a.id].y, w: width, h: height }));
  const free = (r) => taken.every((t) => r.x + r.w < t.x || t.x + t.w < r.x || r.y + r.h < t.y || t.y + t.h < r.y);
  let lines = "", labels = "";
  for (const d of site.doors) {
    let a = position[d.inside], b = position[d.outside];
    const { key, words } = look(d.id);
    const colour = LOOKS[key].colour;
    let path, at;
    if (a.column !== b.column) {
      if (a.column > b.column) [a, b] = [b, a];
      const x1 = a.x + width, y1 = a.y + height / 2, x2 = b.x, y2 = b.y + height / 2;
      path = `M${x1},${y1} L${x2},${y2}`;
      at = (t) => [x1 + (x2 - x1) * t, y1 + (y2 - y1) * t];
    } else {
      // Two areas in one column: an arc on their right, in the gap where no box is.
      const x = a.x + width, y1 = a.y + height / 2, y2 = b.y + height / 2, bulge = gapX * 0.45;
      path = `M${x},${y1} C${x + bulge},${y1} ${x + bulge},${y2} ${x},${y2}`;
      // The cubic's point at t, for the label and its marker.
      at = (t) => [x + 3 * bulge * t * (1 - t), y1 + (y2 - y1) * (3 * t * t - 2 * t * t * t)];
    }
    // The marker on the line; its label above or below it, at the first place along the
    // line where it overlaps nothing.
    const labelWidth = d.name.length * CHAR * 0.9 + 6;
    let placed = null;
    for (const t of [0.5, 0.35, 0.65, 0.25, 0.75, 0.15, 0.85]) {
      const [cx, cy] = at(t);
      for (const dy of [-24, 10]) {
        const box = { x: cx - labelWidth / 2, y: cy + dy, w: labelWidth, h: 15 };
        if (free(box)) {
          placed = { cx, cy, box };
          break;
        }
      }
      if (placed) break;
    }
    if (!placed) {
      const [cx, cy] = at(0.5);
      placed = { cx, cy, box: { x: cx - labelWidth / 2, y: cy - 24, w: labelWidth, h: 15 } };
    }
    taken.push(placed.box);
    lines += `<path d="${path}" stroke="${colour}" stroke-width="3" fill="none"/>`;
    labels += `<g data-door="${text(d.id)}" data-look="${key}" data-lock="${text(words.lock || "")}"><title>${text(d.name)}: ${text(words.all)}</title>`;
    labels += `<circle cx="${placed.cx}" cy="${placed.cy}" r="7" fill="${colour}"/>`;
    labels += `<text class="label" x="${placed.cx}" y="${placed.box.y + 12}" text-anchor="middle">${text(d.name)}</text></g>`;
  }
  let boxes = "";
  for (const a of site.areas) {
    const p = position[a.id];
    const planned = areas && areas[a.id];
    const trapped = planned && !planned.can_exit;
    const fill = a.exterior ? "#e8f3ec" : trapped ? "#f9d7d4" : "#fff";
    const sub = a.exterior ? "outside" : `${a.occupants} occupants${trapped ? " · CANNOT EXIT" : planned && planned.open_to_exterior ? " · open to outside" : ""}`;
    boxes += `<g data-area="${text(a.id)}" data-trapped="${trapped ? "yes" : "no"}"><rect x="${p.x}" y="${p.y}" width="${width}" height="${height}" rx="5" fill="${fill}" stroke="#8a8f98"/>`;
    boxes += `<text x="${p.x + 10}" y="${p.y + 19}" font-weight="600">${text(a.name)}</text>`;
    boxes += `<text class="sub" x="${p.x + 10}" y="${p.y + 36}">${text(sub)}</text></g>`;
  }
  svg.innerHTML = lines + boxes + labels;
}
