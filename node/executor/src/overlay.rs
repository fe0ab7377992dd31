//! The storage overlay: writes of one runtime call (a block, a validation) on top of a read-only
//! backend, with nested transactions kept as an undo journal (O(1) per write, rollback undoes
//! in reverse order).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use watt_support::externalities::Externalities;

/// A failure of the backend (the database) underneath the overlay.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state backend: {0}")]
pub struct BackendError(pub String);

/// Read-only state the overlay sits on (the store's flat state at the parent block).
pub trait StateBackend: Send + Sync + 'static {
    /// Value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;
    /// Smallest key strictly greater than `key`.
    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;
}

/// An in-memory backend (genesis, tests, benchmarks).
#[derive(Default, Clone, Debug)]
pub struct MemoryBackend(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl MemoryBackend {
    /// Applies a change set.
    pub fn apply(&mut self, changes: &Changes) {
        for (k, v) in changes {
            match v {
                Some(v) => self.0.insert(k.clone(), v.clone()),
                None => self.0.remove(k),
            };
        }
    }
}

impl StateBackend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.0.get(key).cloned())
    }
    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self
            .0
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .map(|(k, _)| k.clone()))
    }
}

/// The writes of a call: key -> new value, `None` = deleted. Ordered, so applying and hashing
/// them is deterministic.
pub type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Undo record: the key and its previous overlay entry (`None` = it had none).
type Undo = (Vec<u8>, Option<Option<Vec<u8>>>);

/// One call's view of state: the backend plus this call's writes.
pub struct StateSession {
    backend: Arc<dyn StateBackend>,
    changes: Changes,
    journal: Vec<Vec<Undo>>,
    error: Option<BackendError>,
}

impl StateSession {
    /// A session with no writes yet.
    pub fn new(backend: Arc<dyn StateBackend>) -> Self {
        StateSession {
            backend,
            changes: Changes::new(),
            journal: Vec::new(),
            error: None,
        }
    }

    /// The first backend error met, if any. A call that met one must be discarded.
    pub fn error(&self) -> Option<&BackendError> {
        self.error.as_ref()
    }

    /// The writes made, as if every open transaction were committed.
    pub fn into_changes(self) -> Result<Changes, BackendError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.changes),
        }
    }

    /// The writes made so far.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    fn note(&mut self, r: Result<Option<Vec<u8>>, BackendError>) -> Option<Vec<u8>> {
        r.unwrap_or_else(|e| {
            self.error.get_or_insert(e);
            None
        })
    }

    fn write(&mut self, key: &[u8], value: Option<Vec<u8>>) {
        let previous = self.changes.insert(key.to_vec(), value);
        if let Some(layer) = self.journal.last_mut() {
            layer.push((key.to_vec(), previous));
        }
    }

    /// First key > `key` visible through the overlay.
    fn visible_next_key(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let from_overlay = self
            .changes
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .find(|(_, v)| v.is_some())
            .map(|(k, _)| k.clone());
        let mut cursor = key.to_vec();
        let from_backend = loop {
            let r = self.backend.next_key(&cursor);
            match self.note(r) {
                // A key the overlay deleted is invisible.
                Some(k) if matches!(self.changes.get(&k), Some(None)) => cursor = k,
                other => break other,
            }
        };
        match (from_overlay, from_backend) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Externalities for StateSession {
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(v) = self.changes.get(key) {
            return v.clone();
        }
        let r = self.backend.get(key);
        self.note(r)
    }
    fn set(&mut self, key: &[u8], value: &[u8]) {
        self.write(key, Some(value.to_vec()))
    }
    fn clear(&mut self, key: &[u8]) {
        self.write(key, None)
    }
    fn next_key(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.visible_next_key(key)
    }
    fn clear_prefix(&mut self, prefix: &[u8]) -> u32 {
        let mut doomed = Vec::new();
        if self.get(prefix).is_some() {
            doomed.push(prefix.to_vec());
        }
        let mut cursor = prefix.to_vec();
        while let Some(k) = self.visible_next_key(&cursor) {
            if !k.starts_with(prefix) {
                break;
            }
            doomed.push(k.clone());
            cursor = k;
        }
        for k in &doomed {
            self.write(k, None);
        }
        doomed.len() as u32
    }
    fn start_transaction(&mut self) {
        self.journal.push(Vec::new());
    }
    fn commit_transaction(&mut self) {
        if let Some(layer) = self.journal.pop() {
            // The parent must be able to undo the child's writes too.
            if let Some(parent) = self.journal.last_mut() {
                parent.extend(layer);
            }
        }
    }
    fn rollback_transaction(&mut self) {
        if let Some(layer) = self.journal.pop() {
            for (key, previous) in layer.into_iter().rev() {
                match previous {
                    Some(v) => self.changes.insert(key, v),
                    None => self.changes.remove(&key),
                };
            }
        }
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> StateSession {
        let mut b = MemoryBackend::default();
        for k in [b"a1".as_slice(), b"a2", b"a3", b"b1"] {
            b.0.insert(k.to_vec(), k.to_vec());
        }
        StateSession::new(Arc::new(b))
    }

    #[test]
    fn nested_transactions_commit_and_roll_back() {
        let mut s = session();
        s.set(b"x", b"0");
        s.start_transaction();
        s.set(b"x", b"1");
        s.start_transaction();
        s.set(b"x", b"2");
        s.clear(b"a1");
        s.commit_transaction();
        assert_eq!(s.get(b"x"), Some(b"2".to_vec()));
        assert_eq!(s.get(b"a1"), None);
        s.rollback_transaction();
        assert_eq!(
            s.get(b"x"),
            Some(b"0".to_vec()),
            "outer rollback undoes the committed inner one"
        );
        assert_eq!(s.get(b"a1"), Some(b"a1".to_vec()));
        s.rollback_transaction(); // no open transaction: ignored
        assert_eq!(s.get(b"x"), Some(b"0".to_vec()));
    }

    #[test]
    fn next_key_merges_overlay_and_backend() {
        let mut s = session();
        s.clear(b"a2");
        s.set(b"a25", b"v");
        assert_eq!(s.next_key(b"a1"), Some(b"a25".to_vec()));
        assert_eq!(s.next_key(b"a25"), Some(b"a3".to_vec()));
        assert_eq!(s.next_key(b"b1"), None);
    }

    #[test]
    fn clear_prefix_removes_backend_and_overlay_keys() {
        let mut s = session();
        s.set(b"a9", b"v");
        assert_eq!(s.clear_prefix(b"a"), 4);
        assert_eq!(s.next_key(b""), Some(b"b1".to_vec()));
        let changes = s.into_changes().unwrap();
        assert_eq!(changes.get(b"a1".as_slice()), Some(&None));
    }

    struct Failing;
    impl StateBackend for Failing {
        fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
            Err(BackendError("disk on fire".into()))
        }
        fn next_key(&self, _: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
            Ok(None)
        }
    }

    #[test]
    fn backend_errors_poison_the_session() {
        let mut s = StateSession::new(Arc::new(Failing));
        assert_eq!(s.get(b"k"), None);
        assert!(s.into_changes().is_err());
    }
}
