//! The storage overlay: writes of one runtime call (a block, a validation) on top of a read-only
//! backend, with nested transactions kept as an undo journal (O(1) per write, rollback undoes
//! in reverse order).
//!
//! Finding the next visible key never walks deletions one by one more than once: the overlay's
//! live keys are kept apart from its deletions (one range query finds the next), and runs of
//! backend keys the overlay deleted are remembered as gaps ([`StateSession`]'s `gaps`), so a
//! walk over the backend jumps a whole run in one seek. Clearing a prefix records its gap at
//! once. Each deletion is walked over at most once until it is written again, so `next_key`
//! and `clear_prefix` cost O(log n) per key (amortized), however many deletions the call made.

use std::collections::{BTreeMap, BTreeSet};
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
    /// The keys `changes` holds a value for (not a deletion): the next visible overlay key is
    /// one range query, whatever deletions lie in between.
    live: BTreeSet<Vec<u8>>,
    /// Key ranges `[lo, hi)` (`lo -> hi`, disjoint) in which every backend key is deleted by
    /// `changes`: a walk over the backend jumps such a run in one step. Kept true on every
    /// write and rollback (a key that stops being deleted splits its gap); found by walks and
    /// recorded by `clear_prefix`.
    gaps: BTreeMap<Vec<u8>, Vec<u8>>,
    journal: Vec<Vec<Undo>>,
    error: Option<BackendError>,
    /// Overlay lookups and backend seeks made to find next keys (what the tests bound).
    steps: u64,
}

/// The smallest key greater than `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

impl StateSession {
    /// A session with no writes yet.
    pub fn new(backend: Arc<dyn StateBackend>) -> Self {
        StateSession {
            backend,
            changes: Changes::new(),
            live: BTreeSet::new(),
            gaps: BTreeMap::new(),
            journal: Vec::new(),
            error: None,
            steps: 0,
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

    /// Overlay lookups plus backend seeks made so far to find next keys: O(log n)-sized steps,
    /// at most a few per `next_key` and per key `clear_prefix` removes (amortized).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    fn note(&mut self, r: Result<Option<Vec<u8>>, BackendError>) -> Option<Vec<u8>> {
        r.unwrap_or_else(|e| {
            self.error.get_or_insert(e);
            None
        })
    }

    fn write(&mut self, key: &[u8], value: Option<Vec<u8>>) {
        let previous = self.put_entry(key, Some(value));
        if let Some(layer) = self.journal.last_mut() {
            layer.push((key.to_vec(), previous));
        }
    }

    /// Sets the overlay's entry for `key` (`None`: no entry), keeping `live` and `gaps` true.
    /// Returns the previous entry.
    fn put_entry(&mut self, key: &[u8], entry: Option<Option<Vec<u8>>>) -> Option<Option<Vec<u8>>> {
        let now_live = matches!(entry, Some(Some(_)));
        let now_deleted = matches!(entry, Some(None));
        let previous = match entry {
            Some(v) => self.changes.insert(key.to_vec(), v),
            None => self.changes.remove(key),
        };
        let was_live = matches!(previous, Some(Some(_)));
        let was_deleted = matches!(previous, Some(None));
        if now_live && !was_live {
            self.live.insert(key.to_vec());
        } else if was_live && !now_live {
            self.live.remove(key);
        }
        if was_deleted && !now_deleted {
            self.split_gap(key);
        }
        previous
    }

    /// The end of the gap holding `key`, if one does.
    fn gap_end(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.gaps
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .filter(|(_, hi)| key < hi.as_slice())
            .map(|(_, hi)| hi.clone())
    }

    /// `key` is no longer deleted: the gap holding it (if any) becomes the two around it.
    fn split_gap(&mut self, key: &[u8]) {
        let Some((lo, hi)) = self
            .gaps
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
            .filter(|(_, hi)| key < hi.as_slice())
            .map(|(lo, hi)| (lo.clone(), hi.clone()))
        else {
            return;
        };
        self.gaps.remove(&lo);
        if lo.as_slice() < key {
            self.gaps.insert(lo, key.to_vec());
        }
        let after = successor(key);
        if after < hi {
            self.gaps.insert(after, hi);
        }
    }

    /// Records that every backend key in `[lo, hi)` is deleted, merged with the gaps it
    /// overlaps or touches (each gap is merged away once, so this is amortized O(log n)).
    fn add_gap(&mut self, mut lo: Vec<u8>, mut hi: Vec<u8>) {
        if let Some((l, h)) = self
            .gaps
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(lo.as_slice())))
            .next_back()
        {
            if *h >= lo {
                lo = l.clone();
                hi = hi.max(h.clone());
            }
        }
        let inside: Vec<Vec<u8>> = self
            .gaps
            .range::<[u8], _>((Bound::Included(lo.as_slice()), Bound::Included(hi.as_slice())))
            .map(|(l, _)| l.clone())
            .collect();
        for l in inside {
            if let Some(h) = self.gaps.remove(&l) {
                hi = hi.max(h);
            }
        }
        self.gaps.insert(lo, hi);
    }

    /// The smallest backend key `>= key`.
    fn backend_ceil(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.steps += 1;
        // The keys >= `k ++ [0]` are exactly the keys > `k`.
        if let Some((0, head)) = key.split_last() {
            let r = self.backend.next_key(head);
            return self.note(r);
        }
        let r = self.backend.get(key);
        if self.note(r).is_some() {
            return Some(key.to_vec());
        }
        let r = self.backend.next_key(key);
        self.note(r)
    }

    /// First backend key > `key` the overlay did not delete. Runs of deleted keys are jumped
    /// through `gaps`; the run this walk crossed is recorded as one gap.
    fn backend_next_visible(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.steps += 1;
        let r = self.backend.next_key(key);
        let mut next = self.note(r);
        let mut run: Option<(Vec<u8>, Vec<u8>)> = None;
        let found = loop {
            let Some(b) = next else { break None };
            if !matches!(self.changes.get(&b), Some(None)) {
                break Some(b);
            }
            let end = self.gap_end(&b).unwrap_or_else(|| successor(&b));
            next = self.backend_ceil(&end);
            run = Some(match run {
                Some((lo, _)) => (lo, end),
                None => (b, end),
            });
        };
        if let Some((lo, hi)) = run {
            self.add_gap(lo, hi);
        }
        found
    }

    /// First key > `key` visible through the overlay.
    fn visible_next_key(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.steps += 1;
        let from_overlay = self
            .live
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .cloned();
        let from_backend = self.backend_next_visible(key);
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
        // Every backend key from the first to the last doomed one is under the prefix, so now
        // deleted: later walks jump the whole range at once.
        if let (Some(first), Some(last)) = (doomed.first(), doomed.last()) {
            self.add_gap(first.clone(), successor(last));
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
                self.put_entry(&key, previous);
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

    /// A backend that counts its seeks (`next_key` and `get` calls).
    struct Counting(MemoryBackend, std::sync::atomic::AtomicU64);
    impl StateBackend for Counting {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.get(key)
        }
        fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.next_key(key)
        }
    }

    fn numbered(prefix: &[u8], i: u32) -> Vec<u8> {
        [prefix, &i.to_be_bytes()[..]].concat()
    }

    /// `n` keys under each prefix, plus `z`, behind a seek counter.
    fn counted(prefixes: &[&[u8]], n: u32) -> (StateSession, Arc<Counting>) {
        let mut b = MemoryBackend::default();
        for p in prefixes {
            for i in 0..n {
                b.0.insert(numbered(p, i), vec![1]);
            }
        }
        b.0.insert(b"z".to_vec(), vec![1]);
        let backend = Arc::new(Counting(b, Default::default()));
        (StateSession::new(backend.clone()), backend)
    }

    fn seeks(b: &Counting) -> u64 {
        b.1.load(std::sync::atomic::Ordering::Relaxed)
    }

    const QUERIES: u64 = 200;

    #[test]
    fn next_key_jumps_a_cleared_prefix_in_a_few_seeks() {
        let (mut s, backend) = counted(&[b"a/"], 100_000);
        assert_eq!(s.clear_prefix(b"a/"), 100_000);
        let (before, steps) = (seeks(&backend), s.steps());
        for _ in 0..QUERIES {
            assert_eq!(s.next_key(b""), Some(b"z".to_vec()));
        }
        // Walking the 100,000 deletions one by one would be 100,000 seeks per query.
        assert!(seeks(&backend) - before <= 3 * QUERIES, "{}", seeks(&backend) - before);
        assert!(s.steps() - steps <= 4 * QUERIES, "{}", s.steps() - steps);
    }

    #[test]
    fn individually_deleted_keys_are_walked_once_then_jumped() {
        let (mut s, backend) = counted(&[b"a/"], 50_000);
        for i in 0..50_000 {
            s.clear(&numbered(b"a/", i));
        }
        let before = seeks(&backend);
        for _ in 0..QUERIES {
            assert_eq!(s.next_key(b""), Some(b"z".to_vec()));
        }
        // The first query walks the 50,000 deletions (and remembers them as one gap); every
        // later one jumps them. The linear walk would be 200 × 50,000 seeks.
        let used = seeks(&backend) - before;
        assert!(used <= 50_000 + 3 * QUERIES, "{used}");
        let before = seeks(&backend);
        assert_eq!(s.next_key(b"a/"), Some(b"z".to_vec()));
        assert!(seeks(&backend) - before <= 3);
    }

    #[test]
    fn deletions_of_overlay_only_keys_are_skipped_in_one_lookup() {
        let mut s = session();
        for i in 0..50_000 {
            s.set(&numbered(b"a0/", i), b"v");
        }
        for i in 0..50_000 {
            s.clear(&numbered(b"a0/", i));
        }
        let steps = s.steps();
        for _ in 0..QUERIES {
            assert_eq!(s.next_key(b"a0"), Some(b"a1".to_vec()));
        }
        // Scanning the overlay's 50,000 deletions would count one step each.
        assert!(s.steps() - steps <= 4 * QUERIES, "{}", s.steps() - steps);
    }

    #[test]
    fn clearing_two_large_prefixes_costs_a_few_steps_per_key() {
        // The case: two 100,000-key prefixes cleared in one call, the later one first
        // (its deletions then lie after every key of the earlier one).
        let (mut s, backend) = counted(&[b"a/", b"c/"], 100_000);
        assert_eq!(s.clear_prefix(b"c/"), 100_000);
        assert_eq!(s.clear_prefix(b"a/"), 100_000);
        assert!(seeks(&backend) <= 4 * 200_000, "{}", seeks(&backend));
        assert!(s.steps() <= 8 * 200_000, "{}", s.steps());
        assert_eq!(s.next_key(b""), Some(b"z".to_vec()));
        assert_eq!(s.clear_prefix(b"a/"), 0);
    }

    #[test]
    fn a_write_or_rollback_inside_a_gap_makes_its_key_visible_again() {
        let mut b = MemoryBackend::default();
        for k in [b"a1".as_slice(), b"a2", b"a3", b"a4", b"a5", b"b1"] {
            b.0.insert(k.to_vec(), k.to_vec());
        }
        let mut s = StateSession::new(Arc::new(b));
        s.start_transaction();
        assert_eq!(s.clear_prefix(b"a"), 5);
        assert_eq!(s.next_key(b""), Some(b"b1".to_vec()));
        s.set(b"a3", b"again");
        assert_eq!(s.next_key(b""), Some(b"a3".to_vec()));
        assert_eq!(s.next_key(b"a3"), Some(b"b1".to_vec()));
        s.rollback_transaction();
        let mut seen = Vec::new();
        let mut at = Vec::new();
        while let Some(k) = s.next_key(&at) {
            seen.push(k.clone());
            at = k;
        }
        assert_eq!(seen, [b"a1", b"a2", b"a3", b"a4", b"a5", b"b1"].map(|k| k.to_vec()));
        assert!(s.changes().is_empty());
    }

    /// The session against a plain model (a map per open transaction) under random writes,
    /// prefix clears, transactions and next-key walks over a small key space.
    #[test]
    fn random_operations_match_a_plain_model() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let alphabet = [b'a', b'b', b'c'];
        for _case in 0..300 {
            let key = |rand: &mut dyn FnMut(u64) -> u64| {
                let len = 1 + rand(3) as usize;
                (0..len).map(|_| alphabet[rand(3) as usize]).collect::<Vec<u8>>()
            };
            let mut backend = MemoryBackend::default();
            for _ in 0..rand(25) {
                let k = key(&mut rand);
                backend.0.insert(k.clone(), k);
            }
            let mut model: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![backend.0.clone()];
            let mut s = StateSession::new(Arc::new(backend));
            for step in 0..150 {
                let depth = model.len();
                let top = model.last_mut().unwrap();
                match rand(9) {
                    0 | 1 => {
                        let k = key(&mut rand);
                        s.set(&k, &[step as u8]);
                        top.insert(k, vec![step as u8]);
                    }
                    2 | 3 => {
                        let k = key(&mut rand);
                        s.clear(&k);
                        top.remove(&k);
                    }
                    4 => {
                        let k = key(&mut rand);
                        let p = &k[..k.len().min(1 + rand(2) as usize)];
                        let doomed: Vec<Vec<u8>> = top.keys().filter(|k| k.starts_with(p)).cloned().collect();
                        for k in &doomed {
                            top.remove(k);
                        }
                        assert_eq!(s.clear_prefix(p) as usize, doomed.len());
                    }
                    5 => {
                        s.start_transaction();
                        let copy = top.clone();
                        model.push(copy);
                        continue;
                    }
                    6 if depth > 1 => {
                        s.commit_transaction();
                        let layer = model.pop().unwrap();
                        *model.last_mut().unwrap() = layer;
                    }
                    7 if depth > 1 => {
                        s.rollback_transaction();
                        model.pop();
                    }
                    _ => {
                        let k = key(&mut rand);
                        assert_eq!(s.get(&k).as_ref(), top.get(&k));
                    }
                }
                // A full walk and a next-key from a random point agree with the model.
                let top = model.last().unwrap();
                let from = key(&mut rand);
                let expected = top
                    .range::<[u8], _>((Bound::Excluded(from.as_slice()), Bound::Unbounded))
                    .next()
                    .map(|(k, _)| k.clone());
                assert_eq!(s.next_key(&from), expected);
                let mut walked = Vec::new();
                let mut at = Vec::new();
                while let Some(k) = s.next_key(&at) {
                    walked.push(k.clone());
                    at = k;
                }
                assert_eq!(walked, top.keys().cloned().collect::<Vec<_>>());
            }
        }
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
