//! The console's files, compiled into the binary (no build step, at run time or in
//! `cargo build`): `/` is its page, `/console/NAME` its ES modules and styles, each file one
//! job (see `console/index.html`).

/// One file of the console.
#[derive(Clone, Copy, Debug)]
pub struct File {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

macro_rules! files {
    ($($name:literal => $type:expr),* $(,)?) => {
        &[$(File { name: $name, content_type: $type, body: include_str!(concat!("../console/", $name)) }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file but the page.
pub const FILES: &[File] = files![
    "console.css" => "text/css; charset=utf-8",
    "api.js" => JS,
    "format.js" => JS,
    "session.js" => JS,
    "live.js" => JS,
    "overview.js" => JS,
    "diagram.js" => JS,
    "controls.js" => JS,
    "alarms.js" => JS,
    "health.js" => JS,
    "events.js" => JS,
    "muster.js" => JS,
    "planner.js" => JS,
    "people.js" => JS,
    "levels.js" => JS,
    "schedules.js" => JS,
    "admin.js" => JS,
    "main.js" => JS,
];

/// The page, served at `/`.
pub const PAGE: &str = include_str!("../console/index.html");

/// A file by name.
pub fn find(name: &str) -> Option<&'static File> {
    FILES.iter().find(|f| f.name == name)
}

/// The page's content security policy: its own files only, nothing inline, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[cfg(test)]
mod tests {
    #[test]
    fn every_module_the_console_imports_is_served() {
        let sources = super::FILES.iter().map(|f| f.body).chain([super::PAGE]);
        for source in sources {
            for piece in source
                .split("\"./")
                .skip(1)
                .chain(source.split("/console/").skip(1))
            {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                    .collect();
                if name.ends_with(".js") || name.ends_with(".css") {
                    assert!(
                        super::find(&name).is_some(),
                        "{name} is used but not served"
                    );
                }
            }
        }
    }
}
