//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

pub mod generated;

use keyway_core::check::{Finding, check};
use keyway_core::{Site, parse_site};

/// A site with mains, a lock supply `psu` fed by it, and an exterior area `street`. `site_fields`
/// go into `[site]`, `psu_fields` into the `psu` circuit; `rest` adds areas and doors.
pub fn site_text(site_fields: &str, psu_fields: &str, rest: &str) -> String {
    format!(
        r#"
[site]
name = "Test site"
{site_fields}

[controller]
power = "mains"

[[power]]
id = "mains"

[[power]]
id = "psu"
fed_by = "mains"
{psu_fields}

[[area]]
id = "street"
kind = "exterior"

{rest}
"#
    )
}

pub fn load(text: &str) -> Site {
    match parse_site("test.toml", text) {
        Ok(site) => site,
        Err(errors) => panic!("the test site should load:\n{errors}\n---\n{text}"),
    }
}

pub fn findings(text: &str) -> (Site, Vec<Finding>) {
    let site = load(text);
    let findings = check(&site);
    (site, findings)
}

/// The findings as `RULE door-or-area` strings, for readable assertions.
pub fn finding_keys(site: &Site, findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            let target = match (f.door, f.area) {
                (Some(d), _) => site.door(d).id.clone(),
                (None, Some(a)) => site.area(a).id.clone(),
                (None, None) => "site".to_string(),
            };
            format!("{} {target}", f.rule.id)
        })
        .collect()
}
