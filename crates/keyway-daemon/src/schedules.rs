//! Schedules: the site file's, each of which the console may change (its spans, its
//! holidays), and the console's own. A stored schedule replaces the site file's of the same
//! id, or joins the list; the site with them is what the controller, the check and the API
//! see from the start. Removing a stored change of a site file's schedule brings the file's
//! back; a schedule of the console's own is removed only when nothing names it.

use keyway_core::Site;
use keyway_core::schedule::schedule_from_text;
use keyway_core::site::Schedule;
use keyway_store::ScheduleRow;

/// The site with the stored schedules in it. A stored schedule that no longer reads (it was
/// checked when it was stored, so only a hand-edited database gives one) is left out, and
/// said.
pub fn apply_stored(mut site: Site, rows: &[ScheduleRow]) -> Site {
    for row in rows {
        match schedule_from_text(&row.id, &row.weekly, &row.holidays) {
            Ok(schedule) => match site.schedules.iter().position(|s| s.id == row.id) {
                Some(i) => site.schedules[i] = schedule,
                None => site.schedules.push(schedule),
            },
            Err(problems) => {
                tracing::warn!(id = %row.id, problems = %problems.join("; "), "stored schedule left out");
            }
        }
    }
    site
}

/// A schedule's text, as the site file writes it.
pub fn to_row(schedule: &Schedule) -> ScheduleRow {
    ScheduleRow {
        id: schedule.id.clone(),
        weekly: schedule.weekly.iter().map(|s| s.to_string()).collect(),
        holidays: schedule.holidays.iter().map(|d| d.to_string()).collect(),
    }
}

/// The schedules in effect: the site file's, each replaced by its stored change, then the
/// console's own, in the order the controller numbers them (the file's first, then the
/// stored ones by id, as at start).
pub fn effective(file: &[Schedule], rows: &[ScheduleRow]) -> Vec<(ScheduleRow, &'static str)> {
    let mut out: Vec<(ScheduleRow, &'static str)> = file
        .iter()
        .map(|schedule| match rows.iter().find(|r| r.id == schedule.id) {
            Some(row) => (row.clone(), "site, changed"),
            None => (to_row(schedule), "site"),
        })
        .collect();
    out.extend(
        rows.iter()
            .filter(|r| !file.iter().any(|s| s.id == r.id))
            .map(|r| (r.clone(), "console")),
    );
    out
}
