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

/// A set of node numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NodeBits(Vec<u64>);

impl NodeBits {
    /// The empty set.
    pub(crate) fn new() -> Self {
        NodeBits(Vec::new())
    }

    /// Adds `i`.
    pub(crate) fn insert(&mut self, i: u32) {
        let (w, b) = (i as usize / 64, i % 64);
        if w >= self.0.len() {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    /// Removes `i`.
    pub(crate) fn remove(&mut self, i: u32) {
        if let Some(w) = self.0.get_mut(i as usize / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    /// Whether `i` is in the set.
    pub(crate) fn contains(&self, i: u32) -> bool {
        self.0.get(i as usize / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The union with `other`.
    pub(crate) fn union(&self, other: &NodeBits) -> NodeBits {
        let (long, short) = if self.0.len() >= other.0.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut out = long.clone();
        for (w, o) in out.0.iter_mut().zip(&short.0) {
            *w |= o;
        }
        out
    }

    /// The members, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(wi, &w)| {
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

/// A quorum set over node numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NumberedQset {
    threshold: usize,
    validators: Vec<u32>,
    inner: Vec<NumberedQset>,
}

impl NumberedQset {
    fn entries(&self) -> usize {
        self.validators.len() + self.inner.len()
    }

    /// [`QuorumSet::is_satisfied_by`] with members `m`.
    pub(crate) fn satisfied(&self, m: &NodeBits) -> bool {
        let mut left = self.threshold;
        if left == 0 {
            return true;
        }
        let mut unseen = self.entries();
        for v in &self.validators {
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
        for i in &self.inner {
            if unseen < left {
                return false;
            }
            unseen -= 1;
            if i.satisfied(m) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// [`QuorumSet::is_blocked_by`] with members `m`.
    pub(crate) fn blocked(&self, m: &NodeBits) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut needed = (self.entries() + 1).saturating_sub(self.threshold);
        if needed == 0 {
            return true;
        }
        let mut unseen = self.entries();
        for v in &self.validators {
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
        for i in &self.inner {
            if unseen < needed {
                return false;
            }
            unseen -= 1;
            if i.blocked(m) {
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

/// One node's latest statement and its quorum set over numbers.
#[derive(Clone, Debug)]
struct Held<S> {
    st: S,
    qset: Option<Arc<NumberedQset>>,
}

/// Compiled quorum sets remembered before the cache starts over (each is compiled again when
/// seen again).
const COMPILED: usize = 256;

/// The latest statement of each node of a slot, by node number, with the local node's quorum
/// set: the input of every federated check of that slot.
#[derive(Clone, Debug)]
pub(crate) struct Table<N, S> {
    numbers: BTreeMap<N, u32>,
    held: Vec<Option<Held<S>>>,
    /// Compiled quorum sets by the address of the shared copy they came from (kept alive here,
    /// so that the address is not reused while remembered).
    compiled: BTreeMap<usize, (Arc<QuorumSet<N>>, Arc<NumberedQset>)>,
    local: NumberedQset,
}

impl<N: Ord + Clone + std::fmt::Debug, S> Table<N, S> {
    /// An empty table for a node whose quorum set is `local`.
    pub(crate) fn new(local: &QuorumSet<N>) -> Self {
        let mut t = Table {
            numbers: BTreeMap::new(),
            held: Vec::new(),
            compiled: BTreeMap::new(),
            local: NumberedQset {
                threshold: 0,
                validators: vec![],
                inner: vec![],
            },
        };
        t.local = t.compile(local);
        t
    }

    /// The number of `node`, numbering it if new.
    fn number(&mut self, node: &N) -> u32 {
        if let Some(n) = self.numbers.get(node) {
            return *n;
        }
        let n = self.held.len() as u32;
        self.numbers.insert(node.clone(), n);
        self.held.push(None);
        n
    }

    fn compile(&mut self, q: &QuorumSet<N>) -> NumberedQset {
        NumberedQset {
            threshold: q.threshold as usize,
            validators: q.validators.iter().map(|v| self.number(v)).collect(),
            inner: q.inner.iter().map(|i| self.compile(i)).collect(),
        }
    }

    fn compiled(&mut self, q: &Arc<QuorumSet<N>>) -> Arc<NumberedQset> {
        let key = Arc::as_ptr(q) as usize;
        if let Some((_, c)) = self.compiled.get(&key) {
            return c.clone();
        }
        if self.compiled.len() >= COMPILED {
            self.compiled.clear();
        }
        let c = Arc::new(self.compile(q));
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
        self.held[n as usize].as_ref().map(|h| &h.st)
    }

    /// Makes `st` `node`'s latest statement, judged by `judge`.
    pub(crate) fn insert(&mut self, node: &N, st: S, judge: Judge<N>) {
        let n = self.number(node);
        let qset = match judge {
            Judge::Unknown => None,
            Judge::Qset(q) => Some(self.compiled(&q)),
            Judge::Itself => Some(Arc::new(NumberedQset {
                threshold: 1,
                validators: vec![n],
                inner: vec![],
            })),
        };
        self.held[n as usize] = Some(Held { st, qset });
    }

    /// Every latest statement with its node's number.
    pub(crate) fn statements(&self) -> impl Iterator<Item = (u32, &S)> + '_ {
        self.held
            .iter()
            .enumerate()
            .filter_map(|(n, h)| h.as_ref().map(|h| (n as u32, &h.st)))
    }

    /// Every latest statement, to change in place.
    pub(crate) fn statements_mut(&mut self) -> impl Iterator<Item = &mut S> + '_ {
        self.held.iter_mut().filter_map(|h| h.as_mut().map(|h| &mut h.st))
    }

    /// How many nodes have a statement.
    pub(crate) fn len(&self) -> usize {
        self.held.iter().filter(|h| h.is_some()).count()
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
        self.local.satisfied(nodes) && !self.fixpoint(true, nodes.clone()).is_empty()
    }

    /// [`super::quorum_among`]'s fixpoint from `nodes`; with `check_local`, it stops early
    /// (returning the empty set) once what is left cannot satisfy the local quorum set.
    fn fixpoint(&self, check_local: bool, mut nodes: NodeBits) -> NodeBits {
        debug_assert!(nodes
            .iter()
            .all(|n| self.held.get(n as usize).is_some_and(|h| h.is_some())));
        loop {
            if check_local && !self.local.satisfied(&nodes) {
                return NodeBits::new();
            }
            // Answers per shared quorum set within this pass: most nodes share one.
            let mut memo: Vec<(*const NumberedQset, bool)> = Vec::new();
            let mut keep = nodes.clone();
            let mut changed = false;
            for n in nodes.iter() {
                let ok = match self.held[n as usize].as_ref().and_then(|h| h.qset.as_ref()) {
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
        self.fixpoint(false, nodes.clone())
            .iter()
            .map(|n| names[&n].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
