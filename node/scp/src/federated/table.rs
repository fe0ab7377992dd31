//! Federated voting over node numbers: the form the protocols run [`super::federated_accept`]
//! and [`super::federated_ratify`] in.
//!
//! Every statement arriving at a slot triggers several federated checks, each over the latest
//! statement of every node. Done over names, each check looks every quorum-set member up in a
//! map and builds sets of names. A [`Table`] numbers the nodes of a slot once (0, 1, ... in
//! order of first sight), keeps each node's latest statement in a vector by number, and compiles
//! each quorum set to numbers once (per shared copy), so that a check is one pass over the
//! statements into a bit set followed by bit tests. The answers are those of the functions over
//! names (a property test below compares them on random inputs).

use crate::quorum::QuorumSet;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Words of a [`NodeBits`] kept inline: sets of the first 256 node numbers never allocate
/// (every federated check builds a few).
const INLINE: usize = 4;

/// A set of node numbers.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeBits {
    inline: [u64; INLINE],
    more: Vec<u64>,
}

impl PartialEq for NodeBits {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for NodeBits {}

impl NodeBits {
    /// The empty set.
    pub(crate) fn new() -> Self {
        NodeBits::default()
    }

    fn word(&self, w: usize) -> u64 {
        match w.checked_sub(INLINE) {
            None => self.inline[w],
            Some(m) => self.more.get(m).copied().unwrap_or(0),
        }
    }

    fn word_mut(&mut self, w: usize) -> &mut u64 {
        match w.checked_sub(INLINE) {
            None => &mut self.inline[w],
            Some(m) => {
                if m >= self.more.len() {
                    self.more.resize(m + 1, 0);
                }
                &mut self.more[m]
            }
        }
    }

    fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.inline.iter().chain(&self.more).copied()
    }

    /// Adds `i`.
    #[inline]
    pub(crate) fn insert(&mut self, i: u32) {
        let w = i as usize / 64;
        if w < INLINE {
            self.inline[w] |= 1 << (i % 64);
        } else {
            *self.word_mut(w) |= 1 << (i % 64);
        }
    }

    /// Removes `i`.
    pub(crate) fn remove(&mut self, i: u32) {
        let w = i as usize / 64;
        if w < INLINE + self.more.len() {
            *self.word_mut(w) &= !(1 << (i % 64));
        }
    }

    /// Whether `i` is in the set.
    #[inline]
    pub(crate) fn contains(&self, i: u32) -> bool {
        self.word(i as usize / 64) & (1 << (i % 64)) != 0
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.words().all(|w| w == 0)
    }

    /// The union with `other`.
    pub(crate) fn union(&self, other: &NodeBits) -> NodeBits {
        let mut out = self.clone();
        for (w, o) in other.words().enumerate() {
            if o != 0 {
                *out.word_mut(w) |= o;
            }
        }
        out
    }

    /// The members, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words().enumerate().flat_map(|(wi, w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some(wi as u32 * 64 + b)
            })
        })
    }
}

/// A quorum set over node numbers, laid out flat: its levels in one vector (the inner sets of
/// a level next to each other) and the validators of every level in another, so that a check
/// reads two short runs of memory instead of one allocation per inner set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NumberedQset {
    /// `levels[0]` is the set itself.
    levels: Vec<Level>,
    validators: Vec<u32>,
}

/// One level of a [`NumberedQset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Level {
    threshold: usize,
    /// Its validators: `validators[validators.0..validators.1]`.
    validators: (usize, usize),
    /// Its inner sets: `levels[inner.0..inner.1]`.
    inner: (usize, usize),
}

impl Level {
    fn entries(&self) -> usize {
        (self.validators.1 - self.validators.0) + (self.inner.1 - self.inner.0)
    }
}

impl NumberedQset {
    /// `q` with each validator replaced by `number(validator)`.
    fn new<N>(q: &QuorumSet<N>, number: &mut impl FnMut(&N) -> u32) -> Self {
        let mut out = NumberedQset {
            levels: vec![],
            validators: vec![],
        };
        // Breadth first, so that the inner sets of each level are consecutive.
        let mut queue = std::collections::VecDeque::from([q]);
        out.levels.push(Level {
            threshold: 0,
            validators: (0, 0),
            inner: (0, 0),
        });
        let mut at = 0;
        while let Some(q) = queue.pop_front() {
            let v0 = out.validators.len();
            out.validators.extend(q.validators.iter().map(&mut *number));
            let i0 = out.levels.len();
            for inner in &q.inner {
                out.levels.push(Level {
                    threshold: 0,
                    validators: (0, 0),
                    inner: (0, 0),
                });
                queue.push_back(inner);
            }
            out.levels[at] = Level {
                threshold: q.threshold as usize,
                validators: (v0, out.validators.len()),
                inner: (i0, out.levels.len()),
            };
            at += 1;
        }
        out
    }

    /// [`QuorumSet::is_satisfied_by`] with members `m`.
    pub(crate) fn satisfied(&self, m: &NodeBits) -> bool {
        self.level_satisfied(0, m)
    }

    fn level_satisfied(&self, at: usize, m: &NodeBits) -> bool {
        let level = self.levels[at];
        let mut left = level.threshold;
        if left == 0 {
            return true;
        }
        let mut unseen = level.entries();
        for v in &self.validators[level.validators.0..level.validators.1] {
            if unseen < left {
                return false;
            }
            unseen -= 1;
            if m.contains(*v) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        for i in level.inner.0..level.inner.1 {
            if unseen < left {
                return false;
            }
            unseen -= 1;
            if self.level_satisfied_inline(i, m) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// [`NumberedQset::level_satisfied`], with a level of validators only (most inner sets)
    /// counted here rather than in a call.
    #[inline]
    fn level_satisfied_inline(&self, at: usize, m: &NodeBits) -> bool {
        let level = self.levels[at];
        if level.inner.0 != level.inner.1 {
            return self.level_satisfied(at, m);
        }
        let members = self.validators[level.validators.0..level.validators.1]
            .iter()
            .filter(|v| m.contains(**v))
            .count();
        members >= level.threshold
    }

    /// [`NumberedQset::level_blocked`], with a level of validators only counted here.
    #[inline]
    fn level_blocked_inline(&self, at: usize, m: &NodeBits) -> bool {
        let level = self.levels[at];
        if level.inner.0 != level.inner.1 {
            return self.level_blocked(at, m);
        }
        if level.threshold == 0 {
            return false;
        }
        let needed = (level.entries() + 1).saturating_sub(level.threshold);
        let members = self.validators[level.validators.0..level.validators.1]
            .iter()
            .filter(|v| m.contains(**v))
            .count();
        members >= needed
    }

    /// [`QuorumSet::is_blocked_by`] with members `m`.
    pub(crate) fn blocked(&self, m: &NodeBits) -> bool {
        self.level_blocked(0, m)
    }

    fn level_blocked(&self, at: usize, m: &NodeBits) -> bool {
        let level = self.levels[at];
        if level.threshold == 0 {
            return false;
        }
        let mut needed = (level.entries() + 1).saturating_sub(level.threshold);
        if needed == 0 {
            return true;
        }
        let mut unseen = level.entries();
        for v in &self.validators[level.validators.0..level.validators.1] {
            if unseen < needed {
                return false;
            }
            unseen -= 1;
            if m.contains(*v) {
                needed -= 1;
                if needed == 0 {
                    return true;
                }
            }
        }
        for i in level.inner.0..level.inner.1 {
            if unseen < needed {
                return false;
            }
            unseen -= 1;
            if self.level_blocked_inline(i, m) {
                needed -= 1;
                if needed == 0 {
                    return true;
                }
            }
        }
        false
    }
}

/// The quorum set a statement is judged by.
#[derive(Clone, Debug)]
pub(crate) enum Judge<N> {
    /// Unknown: the node never counts towards a quorum.
    Unknown,
    /// Its quorum set.
    Qset(Arc<QuorumSet<N>>),
    /// Its slice is itself alone (an EXTERNALIZE: the commit is confirmed for good).
    Itself,
}

/// Compiled quorum sets remembered before the cache starts over (each is compiled again when
/// seen again).
const COMPILED: usize = 256;

/// The latest statement of each node of a slot, by node number, with the local node's quorum
/// set: the input of every federated check of that slot.
///
/// The statements are kept apart from everything else, densely: a check reads all of them,
/// and with ~100 nodes the memory it touches is most of its cost.
#[derive(Clone, Debug)]
pub(crate) struct Table<N, S> {
    numbers: BTreeMap<N, u32>,
    held: Vec<Option<S>>,
    /// The quorum set each statement is judged by, by node number.
    qsets: Vec<Option<Arc<NumberedQset>>>,
    /// How many nodes have a statement.
    count: usize,
    /// Compiled quorum sets by the address of the shared copy they came from (kept alive here,
    /// so that the address is not reused while remembered).
    compiled: BTreeMap<usize, (Arc<QuorumSet<N>>, Arc<NumberedQset>)>,
    /// The local quorum set over numbers; peers with the same quorum set share it, so that a
    /// check evaluates it once for all of them.
    local: Arc<NumberedQset>,
    local_qset: QuorumSet<N>,
}

impl<N: Ord + Clone + std::fmt::Debug, S> Table<N, S> {
    /// An empty table for a node whose quorum set is `local`.
    pub(crate) fn new(local: &QuorumSet<N>) -> Self {
        let mut t = Table {
            numbers: BTreeMap::new(),
            held: Vec::new(),
            qsets: Vec::new(),
            count: 0,
            compiled: BTreeMap::new(),
            local: Arc::new(NumberedQset {
                levels: vec![],
                validators: vec![],
            }),
            local_qset: local.clone(),
        };
        t.local = Arc::new(t.compile(local));
        t
    }

    /// The number of `node`, numbering it if new.
    pub(crate) fn number(&mut self, node: &N) -> u32 {
        if let Some(n) = self.numbers.get(node) {
            return *n;
        }
        let n = self.held.len() as u32;
        self.numbers.insert(node.clone(), n);
        self.held.push(None);
        self.qsets.push(None);
        n
    }

    fn compile(&mut self, q: &QuorumSet<N>) -> NumberedQset {
        NumberedQset::new(q, &mut |v| self.number(v))
    }

    fn compiled(&mut self, q: &Arc<QuorumSet<N>>) -> Arc<NumberedQset> {
        let key = Arc::as_ptr(q) as usize;
        if let Some((_, c)) = self.compiled.get(&key) {
            return c.clone();
        }
        if self.compiled.len() >= COMPILED {
            self.compiled.clear();
        }
        let c = if **q == self.local_qset {
            self.local.clone()
        } else {
            Arc::new(self.compile(q))
        };
        self.compiled.insert(key, (q.clone(), c.clone()));
        c
    }

    /// `node`'s number, if it has one.
    pub(crate) fn number_of(&self, node: &N) -> Option<u32> {
        self.numbers.get(node).copied()
    }

    /// `node`'s latest statement.
    pub(crate) fn get(&self, node: &N) -> Option<&S> {
        let n = *self.numbers.get(node)?;
        self.held[n as usize].as_ref()
    }

    /// The latest statement of node number `n`.
    pub(crate) fn get_at(&self, n: u32) -> Option<&S> {
        self.held.get(n as usize).and_then(Option::as_ref)
    }

    /// Makes `st` `node`'s latest statement, judged by `judge`; returns `node`'s number.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, node: &N, st: S, judge: Judge<N>) -> u32 {
        let n = self.number(node);
        self.insert_at(n, st, judge);
        n
    }

    /// Makes `st` the latest statement of node number `n` (from [`Table::number`]), judged by
    /// `judge`.
    pub(crate) fn insert_at(&mut self, n: u32, st: S, judge: Judge<N>) {
        let qset = match judge {
            Judge::Unknown => None,
            Judge::Qset(q) => Some(self.compiled(&q)),
            Judge::Itself => Some(Arc::new(NumberedQset {
                levels: vec![Level {
                    threshold: 1,
                    validators: (0, 1),
                    inner: (0, 0),
                }],
                validators: vec![n],
            })),
        };
        if self.held[n as usize].replace(st).is_none() {
            self.count += 1;
        }
        self.qsets[n as usize] = qset;
    }

    /// Every latest statement with its node's number.
    pub(crate) fn statements(&self) -> impl Iterator<Item = (u32, &S)> + '_ {
        self.held
            .iter()
            .enumerate()
            .filter_map(|(n, h)| h.as_ref().map(|st| (n as u32, st)))
    }

    /// Every latest statement with its node's number, to change in place.
    pub(crate) fn statements_mut(&mut self) -> impl Iterator<Item = (u32, &mut S)> + '_ {
        self.held
            .iter_mut()
            .enumerate()
            .filter_map(|(n, h)| h.as_mut().map(|st| (n as u32, st)))
    }

    /// How many nodes have a statement.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The nodes whose latest statement satisfies `pred`.
    pub(crate) fn nodes(&self, pred: impl Fn(&S) -> bool) -> NodeBits {
        let mut out = NodeBits::new();
        for (n, st) in self.statements() {
            if pred(st) {
                out.insert(n);
            }
        }
        out
    }

    /// Whether `nodes` are v-blocking for the local node.
    pub(crate) fn blocking(&self, nodes: &NodeBits) -> bool {
        self.local.blocked(nodes)
    }

    /// [`super::federated_accept`] with the nodes that voted or accepted (`either`) and those
    /// that accepted. Node sets given to the checks hold only nodes with a statement.
    pub(crate) fn accept(&self, either: &NodeBits, accepted: &NodeBits) -> bool {
        self.local.blocked(accepted) || self.ratify(either)
    }

    /// [`super::federated_ratify`] with the nodes whose statements count.
    pub(crate) fn ratify(&self, nodes: &NodeBits) -> bool {
        let local = self.local.satisfied(nodes);
        local && !self.fixpoint(true, nodes.clone(), Some(local)).is_empty()
    }

    /// [`super::quorum_among`]'s fixpoint from `nodes`; with `check_local`, it stops early
    /// (returning the empty set) once what is left cannot satisfy the local quorum set.
    /// `local` is whether `nodes` satisfy the local quorum set, if the caller knows.
    fn fixpoint(&self, check_local: bool, mut nodes: NodeBits, mut local: Option<bool>) -> NodeBits {
        debug_assert!(nodes
            .iter()
            .all(|n| self.held.get(n as usize).is_some_and(|h| h.is_some())));
        loop {
            let local_ok = local.take().unwrap_or_else(|| self.local.satisfied(&nodes));
            if check_local && !local_ok {
                return NodeBits::new();
            }
            // Answers per shared quorum set within this pass: most nodes share one, often the
            // local one.
            let mut memo: Vec<(*const NumberedQset, bool)> = vec![(Arc::as_ptr(&self.local), local_ok)];
            let mut keep = nodes.clone();
            let mut changed = false;
            for n in nodes.iter() {
                let ok = match &self.qsets[n as usize] {
                    None => false,
                    // A copy of its own (an EXTERNALIZE's slice) is not worth remembering.
                    Some(q) if Arc::strong_count(q) == 1 => q.satisfied(&nodes),
                    Some(q) => {
                        let key = Arc::as_ptr(q);
                        match memo.iter().find(|(k, _)| *k == key) {
                            Some((_, r)) => *r,
                            None => {
                                let r = q.satisfied(&nodes);
                                memo.push((key, r));
                                r
                            }
                        }
                    }
                };
                if !ok {
                    keep.remove(n);
                    changed = true;
                }
            }
            if !changed {
                return keep;
            }
            nodes = keep;
        }
    }

    /// [`super::quorum_among`] with the nodes whose statements count (for tests).
    #[cfg(test)]
    fn quorum_among(&self, nodes: &NodeBits) -> std::collections::BTreeSet<N> {
        let names: BTreeMap<u32, &N> = self.numbers.iter().map(|(k, v)| (*v, k)).collect();
        self.fixpoint(false, nodes.clone(), None)
            .iter()
            .map(|n| names[&n].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
