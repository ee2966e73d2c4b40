// Site health: the `keyway check` findings of the running site (GET /api/check), errors
// first; their count also makes a banner on every screen (overview.js).

import { text } from "./format.js";

const $ = (id) => document.getElementById(id);
const ORDER = { error: 0, warning: 1, info: 2 };
const LOOK = { error: "alarm", warning: "attention", info: "calm" };

export function show(report, site) {
  const name = (finding) =>
    finding.door ? site.doors.find((d) => d.id === finding.door)?.name || finding.door
      : finding.area ? site.areas.find((a) => a.id === finding.area)?.name || finding.area : "the site";
  const findings = [...report.findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const { errors, warnings, infos } = report.summary;
  $("health-summary").textContent = `${errors} errors, ${warnings} warnings, ${infos} notes`;
  $("findings").querySelector("tbody").innerHTML = findings.length
    ? findings.map((f) => `
    <tr data-rule="${text(f.rule)}" data-severity="${text(f.severity)}">
      <td data-label="Severity"><span class="tag ${LOOK[f.severity] || "calm"}">${text(f.severity)}</span></td>
      <th scope="row" data-label="Rule">${text(f.rule)}</th>
      <td data-label="Where">${text(name(f))}</td>
      <td data-label="Finding">${text(f.message)}</td>
      <td data-label="Citation">${text(f.citation || "")}</td>
    </tr>`).join("")
    : '<tr><td colspan="5">No findings: the site passes every rule.</td></tr>';
}
