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
const CELL = 120;

/**
 * Where everything goes, once per site (it depends on the site only): areas in columns,
 * each door's line, its marker and its label at the first place along the line where it
 * overlaps nothing already placed. Overlaps are looked up in a grid of cells, so a site of a
 * thousand doors is laid out in one pass, not by comparing every label with every other.
 */
function layout(site) {
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
  const grid = new Map();
  const cells = (r, each) => {
    for (let i = Math.floor(r.x / CELL); i <= Math.floor((r.x + r.w) / CELL); i++)
      for (let j = Math.floor(r.y / CELL); j <= Math.floor((r.y + r.h) / CELL); j++) each(`${i},${j}`);
  };
  const take = (r) => cells(r, (c) => (grid.get(c) || grid.set(c, []).get(c)).push(r));
  const overlaps = (r, t) => !(r.x + r.w < t.x || t.x + t.w < r.x || r.y + r.h < t.y || t.y + t.h < r.y);
  const free = (r) => {
    let ok = true;
    cells(r, (c) => (ok &&= (grid.get(c) || []).every((t) => !overlaps(r, t))));
    return ok;
  };
  site.areas.forEach((a) => take({ x: position[a.id].x, y: position[a.id].y, w: width, h: height }));
  const doors = site.doors.map((d) => {
    let a = position[d.inside], b = position[d.outside];
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
    take(placed.box);
    return { door: d, path, ...placed };
  });
  return { width, height, position, doors, viewBox: `0 0 ${totalWidth} ${totalHeight}` };
}

const layouts = new WeakMap();

/**
 * Draws `site` into `svg`. `look(doorId)` gives a door's key in LOOKS and its state words;
 * `areas` (from a planned moment) marks areas that cannot exit, or open to the exterior.
 * The drawing is made once per site and svg; after that only what changed is set, so the
 * diagram costs little at each refresh, and nothing under the pointer is replaced.
 */
export function draw(svg, site, look, areas) {
  if (!layouts.has(site)) layouts.set(site, layout(site));
  const l = layouts.get(site);
  if (svg._site !== site) {
    svg._site = site;
    svg.setAttribute("viewBox", l.viewBox);
    let lines = "", labels = "", boxes = "";
    for (const p of l.doors) {
      const d = p.door;
      lines += `<path data-line="${text(d.id)}" d="${p.path}" stroke-width="3" fill="none"/>`;
      labels += `<g data-door="${text(d.id)}"><title></title><circle cx="${p.cx}" cy="${p.cy}" r="7"/>`;
      labels += `<text class="label" x="${p.cx}" y="${p.box.y + 12}" text-anchor="middle">${text(d.name)}</text></g>`;
    }
    for (const a of site.areas) {
      const p = l.position[a.id];
      boxes += `<g data-area="${text(a.id)}"><rect x="${p.x}" y="${p.y}" width="${l.width}" height="${l.height}" rx="5" stroke="#8a8f98"/>`;
      boxes += `<text x="${p.x + 10}" y="${p.y + 19}" font-weight="600">${text(a.name)}</text>`;
      boxes += `<text class="sub" x="${p.x + 10}" y="${p.y + 36}"></text></g>`;
    }
    svg.innerHTML = lines + boxes + labels;
    svg._doors = new Map();
    for (const g of svg.querySelectorAll("g[data-door]")) {
      svg._doors.set(g.dataset.door, { g, circle: g.querySelector("circle"), title: g.querySelector("title"), line: svg.querySelector(`path[data-line="${CSS.escape(g.dataset.door)}"]`), state: "" });
    }
    svg._areas = new Map([...svg.querySelectorAll("g[data-area]")].map((g) => [g.dataset.area, { g, rect: g.querySelector("rect"), sub: g.querySelector("text.sub"), state: "" }]));
  }
  for (const p of l.doors) {
    const d = p.door;
    const { key, words } = look(d.id);
    const title = `${d.name}: ${words.all}`;
    const state = `${key}|${words.lock || ""}|${title}`;
    const e = svg._doors.get(d.id);
    if (e.state === state) continue;
    e.state = state;
    const colour = LOOKS[key].colour;
    e.line.setAttribute("stroke", colour);
    e.circle.setAttribute("fill", colour);
    e.g.dataset.look = key;
    e.g.dataset.lock = words.lock || "";
    e.title.textContent = title;
  }
  for (const a of site.areas) {
    const planned = areas && areas[a.id];
    const trapped = planned && !planned.can_exit;
    const fill = a.exterior ? "#e8f3ec" : trapped ? "#f9d7d4" : "#fff";
    const sub = a.exterior ? "outside" : `${a.occupants} occupants${trapped ? " · CANNOT EXIT" : planned && planned.open_to_exterior ? " · open to outside" : ""}`;
    const state = `${fill}|${sub}`;
    const e = svg._areas.get(a.id);
    if (e.state === state) continue;
    e.state = state;
    e.rect.setAttribute("fill", fill);
    e.sub.textContent = sub;
    e.g.dataset.trapped = trapped ? "yes" : "no";
  }
}
