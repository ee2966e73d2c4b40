//! CSV import of credentials: `number,holder,doors,schedule,valid_from,valid_until`, doors
//! separated by `;` (`*` for every door). A header row is recognised and skipped. Every row is
//! checked before anything is stored: a file with one bad row imports nothing, and a
//! preview lists every bad line without storing anything.

use keyway_core::Site;
use keyway_store::CredentialRow;

use crate::api::{CredentialBody, credential_row};

/// A bad line of a CSV: where, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub line: u64,
    pub problem: String,
}

/// What a whole CSV holds once checked: the good rows, and the bad lines (the first
/// `MAX_LISTED` of them listed, all of them counted).
#[derive(Debug, Default)]
pub struct CsvCheck {
    pub rows: Vec<CredentialRow>,
    pub problems: Vec<Problem>,
    pub bad_lines: usize,
}

/// How many bad lines a check lists; past them it only counts.
pub const MAX_LISTED: usize = 1_000;

impl CsvCheck {
    fn bad(&mut self, line: u64, problem: String) {
        self.bad_lines += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem { line, problem });
        }
    }
}

impl CsvCheck {
    /// The rows, or every problem listed with its line (and how many more there are).
    pub fn into_result(self) -> Result<Vec<CredentialRow>, Vec<String>> {
        if self.bad_lines == 0 {
            return Ok(self.rows);
        }
        let mut errors: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("line {}: {}", p.line, p.problem))
            .collect();
        if self.bad_lines > self.problems.len() {
            errors.push(format!(
                "… and {} more bad lines",
                self.bad_lines - self.problems.len()
            ));
        }
        Err(errors)
    }
}

/// Parses and checks a whole CSV against the site and its schedules, or lists its problems,
/// each with its line (see `check_csv`).
pub fn parse_csv(site: &Site, text: &str) -> Result<Vec<CredentialRow>, Vec<String>> {
    let has_schedule = |id: &str| site.schedules.iter().any(|s| s.id == id);
    check_csv(site, &has_schedule, text).into_result()
}

/// Checks every line of a CSV. The `csv` crate reads it (quoted fields, embedded commas and
/// quotes, a byte-order mark, CRLF); a number that appears twice is an error naming both
/// lines; a line the CSV reader cannot read (an unclosed quote) ends the check there.
pub fn check_csv(site: &Site, has_schedule: &dyn Fn(&str) -> bool, text: &str) -> CsvCheck {
    let mut check = CsvCheck::default();
    let mut first_line_of: std::collections::HashMap<String, u64> = Default::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                check.bad(line, error.to_string());
                break;
            }
        };
        let line_number = record.position().map_or(i as u64 + 1, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if i == 0
            && record
                .get(0)
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("number"))
        {
            continue;
        }
        if record.len() != 6 {
            check.bad(
                line_number,
                format!(
                    "expected 6 fields (number, holder, doors, schedule, valid_from, valid_until), found {}",
                    record.len()
                ),
            );
            continue;
        }
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let optional = |i: usize| (!field(i).is_empty()).then(|| field(i).to_string());
        let body = CredentialBody {
            number: field(0).to_string(),
            holder: field(1).to_string(),
            doors: field(2)
                .split(';')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            levels: Vec::new(),
            schedule: optional(3),
            valid_from: optional(4),
            valid_until: optional(5),
            responder: false,
            disabled: false,
            staff: false,
            pin: None,
            duress_pin: None,
            uses: None,
        };
        match credential_row(site, has_schedule, body) {
            Ok(row) => {
                if let Some(first) = first_line_of.get(&row.number) {
                    let problem = format!("number {:?} is already on line {first}", row.number);
                    check.bad(line_number, problem);
                } else {
                    first_line_of.insert(row.number.clone(), line_number);
                    check.rows.push(row);
                }
            }
            Err(problem) => check.bad(line_number, problem),
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        keyway_core::parse_site("demo", crate::DEMO_SITE).unwrap()
    }

    #[test]
    fn quoted_fields_a_byte_order_mark_and_crlf() {
        let rows = parse_csv(
            &site(),
            "\u{feff}number,holder,doors,schedule,valid_from,valid_until\r\n1001,\"Smith, \"\"Al\"\"\",front;server,,,\r\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].number, "1001");
        assert_eq!(rows[0].holder, "Smith, \"Al\"");
        assert!(parse_csv(&site(), "1001,\"open,front,,,\n").is_err());
    }

    #[test]
    fn a_number_twice_in_one_file_names_both_lines() {
        let errors = parse_csv(
            &site(),
            "1001,A,front,,,\n1002,B,front,,,\n1001,C,front,,,\n",
        )
        .unwrap_err();
        assert_eq!(errors, ["line 3: number \"1001\" is already on line 1"]);
    }

    #[test]
    fn every_bad_line_is_counted_and_the_first_thousand_listed() {
        let mut text = String::from("number,holder,doors,schedule,valid_from,valid_until\n");
        for i in 0..1_500 {
            text.push_str(&format!("{i},H,nowhere,,,\n"));
        }
        text.push_str("9999,Good,front,,,\n");
        let demo = site();
        let check = check_csv(&demo, &|_: &str| true, &text);
        assert_eq!(check.bad_lines, 1_500);
        assert_eq!(check.problems.len(), MAX_LISTED);
        assert_eq!(
            check.problems[0],
            Problem {
                line: 2,
                problem: "doors: the site has no door \"nowhere\"".to_string()
            }
        );
        assert_eq!(check.rows.len(), 1);
        let errors = parse_csv(&site(), &text).unwrap_err();
        assert_eq!(errors.last().unwrap(), "… and 500 more bad lines");
    }
}
