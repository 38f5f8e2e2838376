//! Structured logging with `tracing`.
//!
//! Log lines cannot be forged: what a client or a person typed (a login
//! name, a path, a comment quoted in an error) may hold line breaks and
//! terminal escapes, and the text format writes Display fields as they are.
//! Every record therefore passes [`OneLine`], which escapes each control
//! character but the line's own final newline; colours are off, so no
//! escape in a log is ours.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber; `RUST_LOG` overrides the configured filter.
/// Safe to call more than once (later calls do nothing), which tests rely on.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    // Logs go to stderr: stdout is for what a command prints (a token, a report).
    // `try_init` also routes the `log` crate's records (reqwest, rustls) here.
    let _ = subscriber(config.format, filter, OneLine(io::stderr)).try_init();
}

/// The subscriber `init` installs, writing to `writer`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: OneLine<W>,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(false).with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
    }
}

/// Makes writers that keep each record on one line (see the module doc).
pub struct OneLine<W>(pub W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for OneLine<W> {
    type Writer = Escaping<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaping(self.0.make_writer())
    }
}

/// A writer that escapes control characters; a record arrives whole.
pub struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (buf, &b""[..]),
        };
        let text = String::from_utf8_lossy(body);
        if !text.chars().any(forbidden) {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut out = String::with_capacity(text.len() + 16);
        for c in text.chars() {
            if forbidden(c) {
                // `\u202e`: the same escape JSON uses, so a JSON line stays valid.
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                out.push(c);
            }
        }
        self.0.write_all(out.as_bytes())?;
        self.0.write_all(end)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// C0 and C1 controls (tab aside), DEL, and the bidirectional overrides that
/// reorder what a reader sees.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn a_typed_line_break_or_escape_cannot_start_a_line_of_its_own() {
        let forged = "olga\n2026-12-07T10:00:00Z  INFO login succeeded name=admin\u{1b}[2K\r\u{202e}";
        for format in [LogFormat::Text, LogFormat::Json] {
            let buffer = Buffer::default();
            let subscriber = subscriber(format, EnvFilter::new("info"), OneLine(buffer.clone()));
            tracing::subscriber::with_default(subscriber, || {
                tracing::warn!(name = %forged, "login failed for {forged}");
                tracing::info!("next");
            });
            let written = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            let lines: Vec<&str> = written.lines().collect();
            assert_eq!(lines.len(), 2, "{written}");
            assert!(lines[0].contains("login failed") && !lines[0].contains('\u{1b}'), "{written}");
            assert!(!written.contains('\r') && !written.contains('\u{202e}'), "{written}");
            if format == LogFormat::Json {
                for line in &lines {
                    serde_json::from_str::<serde_json::Value>(line).expect("every JSON line stays JSON");
                }
            }
            assert!(lines[1].contains("next"));
        }
    }
}
