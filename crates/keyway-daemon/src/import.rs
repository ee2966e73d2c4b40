//! CSV import of credentials: `number,holder,doors,schedule,valid_from,valid_until`, doors
//! separated by `;` (`*` for every door). A header row is recognised and skipped. Every row is
//! checked before anything is stored: a file with one bad row imports nothing.

use keyway_core::Site;
use keyway_store::CredentialRow;

use crate::api::{CredentialBody, credential_row};

/// Parses and checks a whole CSV, or lists every problem with its line.
pub fn parse_csv(site: &Site, text: &str) -> Result<Vec<CredentialRow>, Vec<String>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields = match split_csv_line(line) {
            Ok(fields) => fields,
            Err(problem) => {
                errors.push(format!("line {line_number}: {problem}"));
                continue;
            }
        };
        if i == 0
            && fields
                .first()
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("number"))
        {
            continue;
        }
        if fields.len() != 6 {
            errors.push(format!(
                "line {line_number}: expected 6 fields (number, holder, doors, schedule, valid_from, valid_until), found {}",
                fields.len()
            ));
            continue;
        }
        let optional = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let body = CredentialBody {
            number: fields[0].trim().to_string(),
            holder: fields[1].trim().to_string(),
            doors: fields[2]
                .split(';')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            levels: Vec::new(),
            schedule: optional(&fields[3]),
            valid_from: optional(&fields[4]),
            valid_until: optional(&fields[5]),
            responder: false,
        };
        match credential_row(site, body) {
            Ok(row) => rows.push(row),
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

/// Splits one CSV line: fields separated by commas, optionally in double quotes with `""` for
/// a quote inside.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            (_, c) => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err("a quoted field is not closed".to_string());
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_escaped_quotes() {
        assert_eq!(
            split_csv_line(r#"1001,"Smith, ""Al""",front;server,,,"#).unwrap(),
            ["1001", "Smith, \"Al\"", "front;server", "", "", ""]
        );
        assert!(split_csv_line("\"open").is_err());
    }
}
