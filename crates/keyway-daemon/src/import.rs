//! CSV import of credentials: `number,holder,doors,schedule,valid_from,valid_until`, doors
//! separated by `;` (`*` for every door). A header row is recognised and skipped. Every row is
//! checked before anything is stored: a file with one bad row imports nothing.

use keyway_core::Site;
use keyway_store::CredentialRow;

use crate::api::{CredentialBody, credential_row};

/// Parses and checks a whole CSV, or lists every problem with its line. The `csv` crate
/// reads it (quoted fields, embedded commas and quotes, a byte-order mark, CRLF); a number
/// that appears twice is an error naming both lines.
pub fn parse_csv(site: &Site, text: &str) -> Result<Vec<CredentialRow>, Vec<String>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
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
                errors.push(format!("line {line}: {error}"));
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
            errors.push(format!(
                "line {line_number}: expected 6 fields (number, holder, doors, schedule, valid_from, valid_until), found {}",
                record.len()
            ));
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
        };
        match credential_row(site, body) {
            Ok(row) => {
                if let Some(first) = first_line_of.get(&row.number) {
                    errors.push(format!(
                        "line {line_number}: number {:?} is already on line {first}",
                        row.number
                    ));
                } else {
                    first_line_of.insert(row.number.clone(), line_number);
                    rows.push(row);
                }
            }
            Err(problem) => errors.push(format!("line {line_number}: {problem}")),
        }
        if errors.len() >= 100 {
            errors.push("… stopped after 100 problems".to_string());
            break;
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
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
}
