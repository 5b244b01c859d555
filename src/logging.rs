//! Logging: what lambda_runtime's default subscriber does (JSON when
//! `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from `AWS_LAMBDA_LOG_LEVEL` or
//! `RUST_LOG`), less one thing: lambda_runtime logs every raw event at TRACE,
//! which would put whole payloads in the logs of anyone who turns TRACE on to
//! debug. Nothing of ours logs a payload or the environment; decisions are
//! logged as fields (function, alias, decision, weights, reason).

use std::fmt;

use lambda_runtime::tracing::subscriber::field::MakeExt;
use lambda_runtime::tracing::subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::format;
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::subscriber::prelude::*;
use tracing::field::Field;
use tracing::{Level, Metadata, Subscriber};

/// Whether an event may be logged at all: never the runtime's TRACE events,
/// one of which is the raw payload.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    !(meta.target().starts_with("lambda_runtime") && *meta.level() == Level::TRACE)
}

/// The subscriber, writing to `writer` at `level` (and `RUST_LOG`'s directives).
pub fn subscriber<W>(writer: W, json: bool, level: LevelFilter) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(level.into())
                .from_env_lossy(),
        )
        .with_writer(writer);
    if json {
        Box::new(fmt.json().finish().with(filter_fn(allowed)))
    } else {
        Box::new(
            fmt.fmt_fields(format::debug_fn(text_field).delimited(" "))
                .finish()
                .with(filter_fn(allowed)),
        )
    }
}

/// One field of a text log line. A reason quotes what callers and the alias
/// hold (a reason given to pause, a description edited by hand), and a newline
/// in it would print what reads as a second decision line: every control
/// character is written escaped, so one event is always one line. JSON lines
/// are escaped by the JSON itself.
fn text_field(w: &mut format::Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    let text = format!("{value:?}");
    if field.name() != "message" {
        write!(w, "{}=", field.name())?;
    }
    write!(w, "{}", escape_controls(&text))
}

/// `\n`, `\r`, `\t` and `\u{1b}` for what a terminal would act on.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

/// Installs the subscriber for the process, configured from the environment.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    // A second call (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(writer, json, level));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_text_line_stays_one_line_whatever_a_reason_holds() {
        let lines = Lines::default();
        let sink = lines.clone();
        let sub = subscriber(move || sink.clone(), false, LevelFilter::INFO);
        let hostile = "ok\nINFO decision function=other decision=\"promoted\"\r\x1b[2J\t\u{9b}done";
        tracing::subscriber::with_default(sub, || {
            tracing::info!(function = "f", decision = "paused", reason = %hostile, "decision");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(
            text.contains(r#"reason=ok\nINFO decision function=other decision="promoted"\r\u{1b}[2J\t\u{9b}done"#),
            "{text}"
        );
        assert!(text.contains(r#"decision="paused""#), "{text}");
    }
}
