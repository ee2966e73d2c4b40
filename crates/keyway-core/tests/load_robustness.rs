//! Bad input never panics the loader: a mangled site file or script gets errors that point
//! into the file (a line that exists), or loads.

use keyway_core::load::parse_script;
use keyway_core::parse_site;
use proptest::prelude::*;

const OFFICE: &str = include_str!("../../../examples/office.toml");
const SCRIPT: &str = include_str!("../../../examples/replay/office-day.toml");

/// Cuts, inserts or replaces a few characters at random places.
fn mangle(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, kind, c) in edits {
        if chars.is_empty() {
            break;
        }
        let at = at % chars.len();
        match kind % 3 {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(at, c),
            _ => chars[at] = c,
        }
    }
    chars.into_iter().collect()
}

fn edit() -> impl Strategy<Value = (usize, u8, char)> {
    let interesting = prop::sample::select(vec![
        '[', ']', '"', '=', '\n', '#', '{', '}', ',', '.', '\'', '0', 'x', ' ', 'é',
    ]);
    (any::<usize>(), any::<u8>(), interesting)
}

proptest! {
    #[test]
    fn a_mangled_site_file_gets_pointed_errors_or_loads(edits in prop::collection::vec(edit(), 1..6)) {
        let text = mangle(OFFICE, &edits);
        let lines = text.lines().count().max(1) as u32;
        if let Err(errors) = parse_site("mangled.toml", &text) {
            prop_assert!(!errors.0.is_empty());
            for error in &errors.0 {
                prop_assert!(error.line >= 1 && error.line <= lines + 1, "line {} of {}: {}", error.line, lines, error);
                prop_assert!(!error.problem.is_empty());
            }
        }
    }

    #[test]
    fn a_mangled_replay_script_gets_pointed_errors_or_loads(edits in prop::collection::vec(edit(), 1..6)) {
        let site = parse_site("office.toml", OFFICE).unwrap();
        let text = mangle(SCRIPT, &edits);
        let lines = text.lines().count().max(1) as u32;
        if let Err(errors) = parse_script("mangled-script.toml", &text, &site) {
            for error in &errors.0 {
                prop_assert!(error.line >= 1 && error.line <= lines + 1, "line {} of {}: {}", error.line, lines, error);
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = parse_site("noise.toml", &text);
    }
}
