//! A minimal `tracing` subscriber for these tests (the crate has no `tracing-subscriber`):
//! with `RUST_LOG` set (`debug`, `info`, or `target=level` directives separated by commas, e.g.
//! `watt_consensus=debug,watt_network=info,warn`) events go to stderr, prefixed by the time
//! since start and the spans they happened in (each validator's engine runs in a `v<i>` span,
//! so the lines of four validators in one process can be told apart).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::Instant;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn parse_rank(s: &str) -> Option<u8> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "off" => 0,
        "error" => 1,
        "warn" => 2,
        "info" => 3,
        "debug" => 4,
        "trace" => 5,
        _ => return None,
    })
}

struct Filter {
    default: u8,
    /// `(target prefix, rank)`, longest prefix first.
    targets: Vec<(String, u8)>,
}

impl Filter {
    fn parse(spec: &str) -> Self {
        let mut default = 0;
        let mut targets = vec![];
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((target, level)) => {
                    if let Some(r) = parse_rank(level) {
                        targets.push((target.trim().replace('-', "_"), r));
                    }
                }
                None => {
                    if let Some(r) = parse_rank(part) {
                        default = r;
                    }
                }
            }
        }
        targets.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Filter { default, targets }
    }

    fn allows(&self, meta: &Metadata<'_>) -> bool {
        let max = self
            .targets
            .iter()
            .find(|(t, _)| meta.target().starts_with(t.as_str()))
            .map(|(_, r)| *r)
            .unwrap_or(self.default);
        rank(meta.level()) <= max
    }

    fn max(&self) -> u8 {
        self.targets
            .iter()
            .map(|(_, r)| *r)
            .chain([self.default])
            .max()
            .unwrap_or(0)
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

struct Printer {
    filter: Filter,
    start: Instant,
    next_id: AtomicU64,
    /// Label and reference count of every open span.
    spans: Mutex<HashMap<u64, (String, usize)>>,
}

thread_local! {
    static STACK: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Subscriber for Printer {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.filter.allows(meta)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        Some(match self.filter.max() {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        let label = format!("{}{}", attrs.metadata().name(), fields.0);
        self.spans.lock().unwrap().insert(id, (label, 1));
        Id::from_u64(id)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let scope = STACK.with(|s| {
            let spans = self.spans.lock().unwrap();
            s.borrow()
                .iter()
                .filter_map(|id| spans.get(id).map(|(l, _)| l.clone()))
                .collect::<Vec<_>>()
                .join(":")
        });
        let meta = event.metadata();
        eprintln!(
            "{:>9.3} {:<5} [{scope}] {}: {}",
            self.start.elapsed().as_secs_f64(),
            meta.level(),
            meta.target(),
            fields.0
        );
    }

    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(pos) = s.iter().rposition(|id| *id == span.into_u64()) {
                s.remove(pos);
            }
        });
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some((_, n)) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            *n += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let mut spans = self.spans.lock().unwrap();
        let key = id.into_u64();
        let closed = match spans.get_mut(&key) {
            Some((_, n)) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => true,
            None => false,
        };
        if closed {
            spans.remove(&key);
        }
        closed
    }
}

/// Installs the printer once per process if `RUST_LOG` is set.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(spec) = std::env::var("RUST_LOG") else { return };
        let printer = Printer {
            filter: Filter::parse(&spec),
            start: Instant::now(),
            next_id: AtomicU64::new(1),
            spans: Mutex::new(HashMap::new()),
        };
        let _ = tracing::subscriber::set_global_default(printer);
    });
}
