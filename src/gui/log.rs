//! The Log panel's source: a `tracing` layer that keeps the most recent events in a shared ring buffer.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use tracing::{Level, field::Visit};
use tracing_subscriber::{Layer, layer::Context};

/// Lines kept in memory.
const CAPACITY: usize = 5_000;

/// One logged event.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Wall-clock time, `HH:MM:SS.mmm` UTC.
    pub time: String,
    /// Severity.
    pub level: Level,
    /// Message with its fields (`key=value`).
    pub text: String,
}

/// Shared ring buffer of recent events, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
}

impl LogBuffer {
    /// Appends a line, dropping the oldest beyond the capacity.
    pub fn push(&self, line: LogLine) {
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == CAPACITY {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }

    /// A copy of the lines at or above `min_level`'s severity.
    pub fn snapshot(&self, min_level: Level) -> Vec<LogLine> {
        self.lines
            .lock()
            .map(|lines| lines.iter().filter(|l| l.level <= min_level).cloned().collect())
            .unwrap_or_default()
    }

    /// Number of lines kept.
    pub fn len(&self) -> usize {
        self.lines.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every line.
    pub fn clear(&self) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.clear();
        }
    }
}

/// A `tracing` layer feeding a [`LogBuffer`].
pub struct LogLayer {
    buffer: LogBuffer,
}

impl LogLayer {
    /// A layer and the buffer it fills.
    pub fn new() -> (Self, LogBuffer) {
        let buffer = LogBuffer::default();
        (Self { buffer: buffer.clone() }, buffer)
    }
}

struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for LogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // Keep the panel about our program, not the GPU stack's chatter.
        if !meta.target().starts_with("aio") && *meta.level() > Level::WARN {
            return;
        }
        let mut visitor = MessageVisitor(String::new());
        event.record(&mut visitor);
        self.buffer.push(LogLine {
            time: chrono::Utc::now().format("%H:%M:%S%.3f").to_string(),
            level: *meta.level(),
            text: visitor.0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn layer_captures_messages_and_fields() {
        let (layer, buffer) = LogLayer::new();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(rows = 5000, "loaded");
            tracing::debug!("hidden below info");
        });
        let lines = buffer.snapshot(Level::INFO);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "loaded rows=5000");
        assert_eq!(buffer.snapshot(Level::TRACE).len(), 2);
    }
}
