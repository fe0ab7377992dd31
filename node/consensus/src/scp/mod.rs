//! The SCP engine: a validator (or a follower) agreeing on each block with the Stellar
//! Consensus Protocol over libp2p. SCP itself is the pure `watt-scp` state machine; this is
//! its driver (stellar-core's herder): it signs and checks envelopes, fetches the tx sets and
//! quorum sets a statement names before SCP sees it (so SCP never votes for a value whose set
//! the node lacks), arms timers on tokio, persists its own envelopes before sending them,
//! applies each externalized value with its finality certificate, and catches up from peers
//! when it falls behind.
//!
//! Slot N decides block N. A validator nominates for the slot after its head when a
//! transaction waits, when a peer has started the slot, or when the empty-block interval has
//! passed since the head closed.

mod driver;
pub mod wire;

pub use driver::{envelope_signature_ok, quorum_set_hash};

use crate::{AgreementChain, ConsensusEngine, ConsensusError};
use driver::{now_ms, Driver};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use parity_scale_codec::{Decode, Encode};
use sp_core::{sr25519, Pair as _};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::{ChainError, SubmitError};
use watt_network::{NetworkEvent, NetworkHandle, PeerId, Responder, Topic, Validation};
use watt_primitives::{AccountId, BlockNumber, ConsensusValue, Hash, TxError};
use watt_scp::certificate::{certificate_from_envelopes, verify_certificate, Certificate};
use watt_scp::nomination::Value;
use watt_scp::scp::{EnvelopeError, Scp, ScpConfig, ScpOutput};
use watt_scp::slot::{Statement, TimerKind};
use watt_scp::QuorumSet;
use wire::{Request, Response, Status, WattEnvelope};

/// Settings of the SCP engine.
#[derive(Clone)]
pub struct ScpEngineConfig {
    /// The validator's signing key; `None` makes a follower that verifies and applies what
    /// the validators externalize but never votes.
    pub key: Option<sr25519::Pair>,
    /// This node's quorum set.
    pub quorum_set: QuorumSet<AccountId>,
    /// A validator nominates an empty block when nothing happened for this long.
    pub empty_block_interval: Duration,
    /// Values closing later than local time plus this are invalid (stellar-core's
    /// `MAX_TIME_SLIP_SECONDS`).
    pub max_clock_drift: Duration,
    /// An open slot without progress for this long asks peers for their state of it.
    pub stuck_after: Duration,
}

impl ScpEngineConfig {
    /// Defaults for `quorum_set` with `key`.
    pub fn new(key: Option<sr25519::Pair>, quorum_set: QuorumSet<AccountId>) -> Self {
        ScpEngineConfig {
            key,
            quorum_set,
            empty_block_interval: Duration::from_secs(5),
            max_clock_drift: Duration::from_secs(10),
            stuck_after: Duration::from_millis(1500),
        }
    }
}

/// Counters of the engine since start, for monitoring.
#[derive(Debug, Default)]
pub struct ScpStats {
    /// Envelopes received from peers (gossip and state answers).
    pub envelopes_in: AtomicU64,
    /// Envelopes this node signed and sent.
    pub envelopes_out: AtomicU64,
    /// Nomination rounds that timed out (a new round started).
    pub nomination_timeouts: AtomicU64,
    /// Ballot timers that fired (the ballot counter went up).
    pub ballot_timeouts: AtomicU64,
    /// Slots externalized here.
    pub slots_externalized: AtomicU64,
    /// Of those, slots whose nomination needed more than one round.
    pub slots_multi_round: AtomicU64,
    /// Blocks imported by catch-up sync.
    pub blocks_synced: AtomicU64,
    /// Envelopes or messages refused as invalid.
    pub refused: AtomicU64,
    /// Whether the node is catching up from peers right now.
    pub syncing: std::sync::atomic::AtomicBool,
}

/// What an outstanding request was for.
enum Fetch {
    TxSet(Hash),
    QuorumSet(Hash),
    ScpState,
    Blocks,
    Status,
}

type FetchResult = (PeerId, Fetch, Result<Vec<u8>, watt_network::NetworkError>);

/// Something an envelope names that the node does not have yet.
#[derive(Clone, Copy, Debug)]
enum Missing {
    TxSet(Hash),
    QuorumSet(Hash),
}

impl Missing {
    fn hash(self) -> Hash {
        match self {
            Missing::TxSet(h) | Missing::QuorumSet(h) => h,
        }
    }

    fn request(self) -> Request {
        match self {
            Missing::TxSet(h) => Request::TxSet(h),
            Missing::QuorumSet(h) => Request::QuorumSet(h),
        }
    }

    fn fetch(self) -> Fetch {
        match self {
            Missing::TxSet(h) => Fetch::TxSet(h),
            Missing::QuorumSet(h) => Fetch::QuorumSet(h),
        }
    }
}

/// An envelope waiting for the tx sets or quorum set it names.
struct Parked {
    env: WattEnvelope,
    from: PeerId,
}

/// The SCP engine.
pub struct ScpEngine<C: AgreementChain> {
    chain: Arc<C>,
    network: NetworkHandle,
    events: tokio::sync::mpsc::Receiver<NetworkEvent>,
    config: ScpEngineConfig,
    stats: Arc<ScpStats>,
}

impl<C: AgreementChain> ScpEngine<C> {
    /// An engine on `chain`, speaking through `network` (whose events it consumes).
    pub fn new(
        chain: Arc<C>,
        network: NetworkHandle,
        events: tokio::sync::mpsc::Receiver<NetworkEvent>,
        config: ScpEngineConfig,
    ) -> Self {
        ScpEngine {
            chain,
            network,
            events,
            config,
            stats: Arc::new(ScpStats::default()),
        }
    }

    /// The engine's counters (shared; they keep counting while it runs).
    pub fn stats(&self) -> Arc<ScpStats> {
        self.stats.clone()
    }
}

impl<C: AgreementChain> ConsensusEngine for ScpEngine<C> {
    fn name(&self) -> &'static str {
        "scp"
    }

    fn run(self: Box<Self>, shutdown: BoxFuture<'static, ()>) -> BoxFuture<'static, Result<(), ConsensusError>> {
        Box::pin(async move {
            let ScpEngine {
                chain,
                network,
                mut events,
                config,
                stats,
            } = *self;
            let (relay_tx, mut relay_rx) = tokio::sync::mpsc::unbounded_channel();
            chain.set_tx_relay(relay_tx);
            let mut state = State::new(chain.clone(), network.clone(), config, stats);
            state.restore();
            let mut shutdown = shutdown;
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let next_timer = state.next_timer();
                let timer = async move {
                    match next_timer {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => futures::future::pending::<()>().await,
                    }
                };
                let validator = state.validator;
                let nominated = state.nominated;
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    ev = events.recv() => match ev {
                        Some(ev) => state.on_network(ev),
                        None => return Err(ConsensusError::Task("the network stopped".into())),
                    },
                    Some(tx) = relay_rx.recv() => network.publish(Topic::Transactions, tx),
                    _ = chain.transaction_arrived(), if validator && !nominated => state.maybe_nominate("transactions waiting"),
                    _ = timer => state.fire_timers(),
                    _ = tick.tick() => state.on_tick(),
                    Some(done) = state.fetches.next(), if !state.fetches.is_empty() => state.on_fetched(done),
                }
            }
        })
    }
}

struct State<C: AgreementChain> {
    chain: Arc<C>,
    network: NetworkHandle,
    config: ScpEngineConfig,
    stats: Arc<ScpStats>,
    validator: bool,
    local: AccountId,
    driver: Driver<C>,
    scp: Scp<AccountId>,
    timers: BTreeMap<(u64, TimerKind), Instant>,
    nominated: bool,
    /// When the current slot last made progress (head moved, or we emitted).
    progress_at: Instant,
    last_state_request: Instant,
    last_status_round: Instant,
    parked: Vec<Parked>,
    /// Hashes being fetched (tx sets and quorum sets), with when they were asked for.
    fetching: HashMap<Hash, (Missing, Instant)>,
    fetches: FuturesUnordered<BoxFuture<'static, FetchResult>>,
    peers: BTreeSet<PeerId>,
    /// Highest head a peer reported, and who.
    best_seen: Option<(BlockNumber, PeerId)>,
    syncing: Option<(PeerId, Instant)>,
    sync_started: Option<(Instant, BlockNumber)>,
    /// A slot externalized whose set has not arrived yet.
    awaiting_set: Option<(u64, Value)>,
}

impl<C: AgreementChain> State<C> {
    fn new(chain: Arc<C>, network: NetworkHandle, config: ScpEngineConfig, stats: Arc<ScpStats>) -> Self {
        let validator = config.key.is_some();
        let local = match &config.key {
            Some(k) => AccountId::from(k.public().0),
            // A follower is never a sender; any id outside every quorum set does.
            None => AccountId::from([0u8; 32]),
        };
        let driver = Driver::new(
            chain.clone(),
            config.key.clone(),
            &config.quorum_set,
            config.max_clock_drift.as_millis() as u64,
        );
        let first_slot = driver.head.number + 1;
        let scp = Scp::new(
            &driver,
            local,
            config.quorum_set.clone(),
            ScpConfig {
                validator,
                ..ScpConfig::default()
            },
            first_slot,
        );
        let long_ago = Instant::now() - Duration::from_secs(60);
        State {
            chain,
            network,
            config,
            stats,
            validator,
            local,
            driver,
            scp,
            timers: BTreeMap::new(),
            nominated: false,
            progress_at: Instant::now(),
            last_state_request: long_ago,
            last_status_round: long_ago,
            parked: vec![],
            fetching: HashMap::new(),
            fetches: FuturesUnordered::new(),
            peers: BTreeSet::new(),
            best_seen: None,
            syncing: None,
            sync_started: None,
            awaiting_set: None,
        }
    }

    fn slot(&self) -> u64 {
        self.driver.head.number + 1
    }

    /// Takes back the envelopes this node sent before a restart (draft §6: a node must never
    /// contradict a vote already cast).
    fn restore(&mut self) {
        let bytes = match self.chain.consensus_state() {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("cannot read the persisted SCP state: {e}");
                return;
            }
        };
        let Ok(envs) = Vec::<WattEnvelope>::decode(&mut &bytes[..]) else {
            tracing::error!("the persisted SCP state does not decode; starting without it");
            return;
        };
        let slot = self.slot();
        let current: Vec<WattEnvelope> = envs.into_iter().filter(|e| e.slot >= slot).collect();
        let restored = self.scp.restore(current.iter().cloned());
        if restored > 0 {
            self.nominated = current
                .iter()
                .any(|e| e.slot == slot && matches!(e.statement, Statement::Nominate(_)));
            tracing::info!("restored {restored} own SCP envelopes for slot {slot} and later");
        }
    }

    // ---- outputs ----

    fn handle(&mut self, outputs: Vec<ScpOutput<AccountId>>) {
        let mut to_send = vec![];
        let mut externalized = vec![];
        for o in outputs {
            match o {
                ScpOutput::Broadcast(env) => to_send.push(env),
                // Peers still on a slot ask for its state (Request::ScpState) when stuck.
                ScpOutput::SendTo(..) => {}
                ScpOutput::ArmTimer { slot, kind, delay_ms } => {
                    self.timers
                        .insert((slot, kind), Instant::now() + Duration::from_millis(delay_ms));
                }
                ScpOutput::CancelTimer { slot, kind } => {
                    self.timers.remove(&(slot, kind));
                }
                ScpOutput::Externalized { slot, value } => externalized.push((slot, value)),
            }
        }
        if !to_send.is_empty() {
            // Persisted (synced) before anything leaves the node.
            let own = self.scp.own_envelopes(self.slot());
            if let Err(e) = self.chain.put_consensus_state(&own.encode()) {
                tracing::error!("cannot persist SCP envelopes, not sending them: {e}");
                return;
            }
            for env in to_send {
                self.stats.envelopes_out.fetch_add(1, Relaxed);
                self.network.publish(Topic::ScpEnvelopes, env.encode());
            }
            self.progress_at = Instant::now();
        }
        for (slot, value) in externalized {
            self.on_externalized(slot, value);
        }
    }

    fn on_externalized(&mut self, slot: u64, value: Value) {
        if slot != self.slot() {
            return;
        }
        let Some(v) = wire::decode_value(&value) else {
            tracing::error!("slot {slot} externalized a value that is not a Watt value");
            return;
        };
        let Some(set) = self.driver.tx_set(&v.tx_set_hash) else {
            tracing::info!("slot {slot} externalized; fetching its transaction set");
            self.awaiting_set = Some((slot, value));
            self.fetch_from_all(Missing::TxSet(v.tx_set_hash));
            return;
        };
        self.awaiting_set = None;
        let envelopes = self.scp.state_envelopes(slot).into_iter().filter(|e| e.slot == slot);
        let cert = certificate_from_envelopes(slot, &value, envelopes, |h| self.driver.qsets.get(h).cloned());
        let rounds = self.scp.slot(slot).map(|s| s.nomination().round()).unwrap_or(1);
        match self.chain.apply_agreed(&v, &set, cert.encode()) {
            Ok(b) => {
                self.stats.slots_externalized.fetch_add(1, Relaxed);
                if rounds > 1 {
                    self.stats.slots_multi_round.fetch_add(1, Relaxed);
                }
                tracing::debug!(
                    "slot {slot} externalized with {} transactions, certified by {} validators",
                    b.tx_hashes.len(),
                    cert.envelopes.len()
                );
                self.on_new_head();
            }
            Err(ChainError::NotOnHead { .. }) => {
                tracing::warn!("slot {slot} externalized on a parent that is not our head; catching up");
                self.request_status_round();
            }
            // A failure of this node (database, instances): the value stays agreed; retried
            // every tick until it applies.
            Err(e) => {
                tracing::error!("cannot apply the value externalized in slot {slot} (retrying): {e}");
                self.awaiting_set = Some((slot, value));
            }
        }
    }

    /// The head moved (a value applied): move to the next slot.
    fn on_new_head(&mut self) {
        let (header, hash) = self.chain.head();
        if hash == self.driver.head_hash {
            return;
        }
        self.driver.head = header;
        self.driver.head_hash = hash;
        self.enter_slot();
    }

    /// Starts the slot after the head the driver holds: envelopes buffered for it are
    /// processed, and a validator nominates if peers have started it or transactions wait.
    fn enter_slot(&mut self) {
        self.nominated = false;
        self.awaiting_set = None;
        self.progress_at = Instant::now();
        let slot = self.slot();
        self.timers.retain(|(s, _), _| *s >= slot);
        self.parked.retain(|p| p.env.slot >= slot);
        let out = self.scp.start_slot(&self.driver, slot);
        let peers_started = !out.is_empty() || self.scp.slot(slot).is_some();
        self.handle(out);
        if self.validator && (peers_started || self.chain.has_pending()) {
            self.maybe_nominate("next slot");
        }
    }

    fn maybe_nominate(&mut self, why: &str) {
        if !self.validator || self.nominated || self.syncing.is_some() {
            return;
        }
        let slot = self.slot();
        let set = match self.chain.candidate_tx_set() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot build a candidate transaction set: {e}");
                return;
            }
        };
        let count = set.transactions.len();
        let encoded = set.encode();
        let tx_set_hash = self.driver.add_tx_set(set);
        self.network.publish(Topic::TxSets, encoded);
        let value = ConsensusValue {
            parent_hash: self.driver.head_hash,
            tx_set_hash,
            // The proposer's clock, and never before the parent closed (validators refuse such
            // values; this is the proposal, not a correction of an agreed time).
            close_time: now_ms().max(self.driver.head.close_time + 1),
            // Only a validator (a node with a key) gets here: `local` is its own account.
            proposer: self.local,
        };
        tracing::debug!("slot {slot}: nominating {count} transactions ({why})");
        self.nominated = true;
        let previous = self.driver.head_hash.to_vec();
        let out = self.scp.nominate(&self.driver, slot, value.encode(), previous);
        self.handle(out);
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.values().min().copied()
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<(u64, TimerKind)> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| *k)
            .collect();
        for (slot, kind) in due {
            self.timers.remove(&(slot, kind));
            match kind {
                TimerKind::Nomination => self.stats.nomination_timeouts.fetch_add(1, Relaxed),
                TimerKind::Ballot => self.stats.ballot_timeouts.fetch_add(1, Relaxed),
            };
            let out = self.scp.timeout(&self.driver, slot, kind);
            self.handle(out);
        }
    }

    // ---- network input ----

    fn on_network(&mut self, ev: NetworkEvent) {
        match ev {
            NetworkEvent::PeerConnected(p) => {
                self.peers.insert(p);
                self.request(p, Request::Status, Fetch::Status);
            }
            NetworkEvent::PeerDisconnected(p) => {
                self.peers.remove(&p);
                if matches!(self.syncing, Some((s, _)) if s == p) {
                    self.syncing = None;
                }
            }
            NetworkEvent::Gossip { topic, from, id, data } => {
                let verdict = match topic {
                    Topic::ScpEnvelopes => self.on_envelope_bytes(from, &data),
                    Topic::TxSets => self.on_tx_set_bytes(from, &data),
                    Topic::Transactions => self.on_transaction(&data),
                };
                if verdict == Validation::Reject {
                    self.stats.refused.fetch_add(1, Relaxed);
                }
                self.network.report_validation(id, from, verdict);
            }
            NetworkEvent::Request { from, data, reply } => self.on_request(from, &data, reply),
        }
    }

    fn on_transaction(&mut self, data: &[u8]) -> Validation {
        match self.chain.submit_from_peer(data) {
            Ok(_) => Validation::Accept,
            // Provably bad whatever the state: the sender should not have relayed it.
            Err(SubmitError::Pool(watt_txpool::PoolError::Invalid(
                TxError::BadEncoding
                | TxError::BadSignature
                | TxError::WrongGenesis { .. }
                | TxError::TooLarge { .. }
                | TxError::BadCall,
            ))) => Validation::Reject,
            // Stale, already pooled, pool full...: not the sender's fault.
            Err(_) => Validation::Ignore,
        }
    }

    fn on_tx_set_bytes(&mut self, from: PeerId, data: &[u8]) -> Validation {
        match wire::decode_tx_set(data) {
            Ok(set) => self.on_tx_set(from, set, None),
            Err(e) => {
                self.network.report_peer(from, 25, &e.to_string());
                Validation::Reject
            }
        }
    }

    /// A transaction set arrived (gossiped, or the answer to a request for `expected`).
    fn on_tx_set(&mut self, from: PeerId, set: watt_primitives::TxSet, expected: Option<Hash>) -> Validation {
        let hash = set.hash();
        if expected.is_some_and(|h| h != hash) {
            self.network
                .report_peer(from, 50, "sent a transaction set other than the one asked for");
            return Validation::Reject;
        }
        self.fetching.remove(&hash);
        self.driver.add_tx_set(set);
        self.unpark();
        if let Some((slot, value)) = self.awaiting_set.clone() {
            self.on_externalized(slot, value);
        }
        Validation::Accept
    }

    fn on_envelope_bytes(&mut self, from: PeerId, data: &[u8]) -> Validation {
        let env = match wire::decode_envelope(data) {
            Ok(e) => e,
            Err(e) => {
                self.network.report_peer(from, 25, &e.to_string());
                return Validation::Reject;
            }
        };
        self.on_envelope(from, env)
    }

    /// The hashes of every value a statement names, or `None` if one is not a Watt value.
    fn named_sets(st: &Statement) -> Option<Vec<Hash>> {
        let values: Vec<&Value> = match st {
            Statement::Nominate(n) => n.votes.iter().chain(n.accepted.iter()).collect(),
            Statement::Ballot(b) => {
                use watt_scp::ballot::BallotStatement::*;
                match b {
                    Prepare {
                        ballot,
                        prepared,
                        prepared_prime,
                        ..
                    } => std::iter::once(&ballot.value)
                        .chain(prepared.iter().map(|b| &b.value))
                        .chain(prepared_prime.iter().map(|b| &b.value))
                        .collect(),
                    Confirm { ballot, .. } => vec![&ballot.value],
                    Externalize { commit, .. } => vec![&commit.value],
                }
            }
        };
        values
            .into_iter()
            .map(|v| wire::decode_value(v).map(|cv| cv.tx_set_hash))
            .collect()
    }

    fn on_envelope(&mut self, from: PeerId, env: WattEnvelope) -> Validation {
        self.stats.envelopes_in.fetch_add(1, Relaxed);
        if env.slot <= self.driver.head.number {
            return Validation::Ignore;
        }
        if env.node == self.local {
            return Validation::Ignore;
        }
        if !envelope_signature_ok(&env, &self.driver.genesis) {
            self.network.report_peer(from, 50, "SCP envelope with a bad signature");
            return Validation::Reject;
        }
        let Some(sets) = Self::named_sets(&env.statement) else {
            self.network
                .report_peer(from, 50, "SCP envelope naming a value that is not a Watt value");
            return Validation::Reject;
        };
        let missing: Vec<Hash> = sets.into_iter().filter(|h| !self.driver.has_tx_set(h)).collect();
        let externalize = matches!(
            env.statement,
            Statement::Ballot(watt_scp::ballot::BallotStatement::Externalize { .. })
        );
        let qset_missing = !externalize && !self.driver.qsets.contains_key(&env.qset_hash);
        if !missing.is_empty() || qset_missing {
            for h in missing {
                self.fetch(from, Missing::TxSet(h));
            }
            if qset_missing {
                self.fetch(from, Missing::QuorumSet(env.qset_hash));
            }
            if self.parked.len() < 10_000 {
                self.parked.push(Parked { env, from });
            }
            // Signed by its sender and naming well-formed values: worth relaying.
            return Validation::Accept;
        }
        self.feed(from, env)
    }

    fn feed(&mut self, from: PeerId, env: WattEnvelope) -> Validation {
        let slot = env.slot;
        match self.scp.receive(&self.driver, env) {
            Ok((_, out)) => {
                self.handle(out);
                if slot == self.slot() {
                    self.maybe_nominate("a peer started the slot");
                }
                Validation::Accept
            }
            Err(EnvelopeError::BadSignature) | Err(EnvelopeError::InsaneQuorumSet) => {
                self.network.report_peer(from, 50, "invalid SCP envelope");
                Validation::Reject
            }
            Err(EnvelopeError::TooFarAhead { .. }) => {
                self.request_status_round();
                Validation::Ignore
            }
            Err(_) => Validation::Ignore,
        }
    }

    /// Feeds parked envelopes whose sets and quorum sets have all arrived.
    fn unpark(&mut self) {
        let parked = std::mem::take(&mut self.parked);
        for p in parked {
            let ready = Self::named_sets(&p.env.statement)
                .is_some_and(|sets| sets.iter().all(|h| self.driver.has_tx_set(h)))
                && (self.driver.qsets.contains_key(&p.env.qset_hash)
                    || matches!(
                        p.env.statement,
                        Statement::Ballot(watt_scp::ballot::BallotStatement::Externalize { .. })
                    ));
            if ready {
                self.feed(p.from, p.env);
            } else {
                self.parked.push(p);
            }
        }
    }

    fn on_request(&mut self, from: PeerId, data: &[u8], reply: Responder) {
        let request = match wire::decode_request(data) {
            Ok(r) => r,
            Err(e) => {
                self.network.report_peer(from, 25, &e.to_string());
                reply.send(Response::Error(e.to_string()).encode());
                return;
            }
        };
        let response = match request {
            Request::TxSet(h) => Response::TxSet(self.driver.tx_set(&h).map(|s| (*s).clone())),
            Request::QuorumSet(h) => Response::QuorumSet(self.driver.qsets.get(&h).cloned()),
            Request::ScpState(slot) => Response::ScpState(self.scp.state_envelopes(slot)),
            Request::Status => Response::Status(Status {
                genesis: self.driver.genesis,
                best_number: self.driver.head.number,
                best_hash: self.driver.head_hash,
            }),
            Request::Blocks { from: first, count } => {
                let count = count.min(wire::MAX_BLOCKS_PER_REQUEST) as u64;
                let mut blocks = vec![];
                let mut bytes = 0usize;
                for n in first..first.saturating_add(count) {
                    match self.chain.block_at(n) {
                        Ok(Some(b)) => {
                            bytes += b.encoded_size();
                            if bytes > wire::MAX_RESPONSE_BYTES - (1 << 20) && !blocks.is_empty() {
                                break;
                            }
                            blocks.push(b);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("cannot serve block #{n}: {e}");
                            break;
                        }
                    }
                }
                Response::Blocks(blocks)
            }
        };
        reply.send(response.encode());
    }

    // ---- requests ----

    fn request(&mut self, peer: PeerId, req: Request, kind: Fetch) {
        let network = self.network.clone();
        let bytes = req.encode();
        self.fetches.push(Box::pin(
            async move { (peer, kind, network.request(peer, bytes).await) },
        ));
    }

    /// Asks `peer` for something an envelope names, unless it was asked for recently.
    fn fetch(&mut self, peer: PeerId, missing: Missing) {
        if self
            .fetching
            .get(&missing.hash())
            .is_some_and(|(_, at)| at.elapsed() < Duration::from_secs(2))
        {
            return;
        }
        self.fetching.insert(missing.hash(), (missing, Instant::now()));
        self.request(peer, missing.request(), missing.fetch());
    }

    /// Asks every connected peer.
    fn fetch_from_all(&mut self, missing: Missing) {
        self.fetching.insert(missing.hash(), (missing, Instant::now()));
        let peers: Vec<PeerId> = self.peers.iter().copied().collect();
        for p in peers {
            self.request(p, missing.request(), missing.fetch());
        }
    }

    fn request_status_round(&mut self) {
        if self.last_status_round.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last_status_round = Instant::now();
        let peers: Vec<PeerId> = self.peers.iter().copied().collect();
        for p in peers {
            self.request(p, Request::Status, Fetch::Status);
        }
    }

    fn on_fetched(&mut self, (peer, kind, result): FetchResult) {
        let bytes = match result {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!("request to {peer} failed: {e}");
                if matches!(kind, Fetch::Blocks) {
                    self.syncing = None;
                }
                return;
            }
        };
        let response = match wire::decode_response(&bytes) {
            Ok(r) => r,
            Err(e) => {
                self.network.report_peer(peer, 25, &e.to_string());
                if matches!(kind, Fetch::Blocks) {
                    self.syncing = None;
                }
                return;
            }
        };
        match (kind, response) {
            (Fetch::TxSet(h), Response::TxSet(Some(set))) => {
                self.on_tx_set(peer, set, Some(h));
            }
            (Fetch::QuorumSet(h), Response::QuorumSet(Some(q))) => {
                if quorum_set_hash(&q) != h || !q.problems().is_empty() {
                    self.network.report_peer(peer, 50, "sent a wrong or insane quorum set");
                    return;
                }
                self.fetching.remove(&h);
                self.driver.qsets.insert(h, q);
                self.unpark();
            }
            (Fetch::ScpState, Response::ScpState(envs)) => {
                for env in envs.into_iter().take(1000) {
                    self.on_envelope(peer, env);
                }
            }
            (Fetch::Status, Response::Status(s)) => {
                if s.genesis != self.driver.genesis {
                    self.network.report_peer(peer, 100, "peer is on another chain");
                    return;
                }
                if s.best_number > self.driver.head.number
                    && self
                        .best_seen
                        .is_none_or(|(n, _)| s.best_number > n || n <= self.driver.head.number)
                {
                    self.best_seen = Some((s.best_number, peer));
                }
                self.maybe_sync();
            }
            (Fetch::Blocks, Response::Blocks(blocks)) => self.on_blocks(peer, blocks),
            (_, Response::Error(e)) => tracing::debug!("peer {peer} could not serve a request: {e}"),
            _ => {}
        }
    }

    // ---- catch-up ----

    fn maybe_sync(&mut self) {
        let head = self.driver.head.number;
        let Some((target, peer)) = self.best_seen else { return };
        if target <= head {
            self.best_seen = None;
            if self.sync_started.take().is_some() {
                self.stats.syncing.store(false, Relaxed);
                tracing::info!("caught up at #{head}; taking part in consensus");
            }
            return;
        }
        if matches!(self.syncing, Some((_, at)) if at.elapsed() < Duration::from_secs(30)) {
            return;
        }
        if self.sync_started.is_none() {
            self.sync_started = Some((Instant::now(), head));
            self.stats.syncing.store(true, Relaxed);
            tracing::info!("behind: at #{head}, peers at #{target}; syncing");
        }
        self.syncing = Some((peer, Instant::now()));
        let count = (target - head).min(64) as u32;
        self.request(peer, Request::Blocks { from: head + 1, count }, Fetch::Blocks);
    }

    fn on_blocks(&mut self, peer: PeerId, blocks: Vec<(watt_primitives::Block, Option<Vec<u8>>)>) {
        self.syncing = None;
        let mut imported = 0u64;
        for (block, cert) in blocks {
            let number = block.header.number;
            if number != self.driver.head.number + 1 {
                break;
            }
            let Some(cert_bytes) = cert else {
                self.network
                    .report_peer(peer, 50, "served a block without a finality certificate");
                break;
            };
            if let Err(why) = self.check_certificate(&block.header, &cert_bytes) {
                self.network.report_peer(
                    peer,
                    100,
                    &format!("served block #{number} with a bad certificate: {why}"),
                );
                self.best_seen = None;
                break;
            }
            match self.chain.import_certified(block, &cert_bytes) {
                Ok(_) => {
                    imported += 1;
                    self.stats.blocks_synced.fetch_add(1, Relaxed);
                    let (header, hash) = self.chain.head();
                    self.driver.head = header;
                    self.driver.head_hash = hash;
                }
                // The block contradicts its own header: the peer served a bad block.
                Err(e @ ChainError::InvalidBlock(_)) => {
                    self.network
                        .report_peer(peer, 100, &format!("served block #{number} that does not import: {e}"));
                    self.best_seen = None;
                    break;
                }
                // A failure of this node (database, runtime instance): not the peer's doing; the
                // next status round retries.
                Err(e) => {
                    tracing::error!("cannot import synced block #{number}: {e}");
                    break;
                }
            }
        }
        if imported > 0 {
            let head = self.driver.head.number;
            if let (Some((started, from)), Some((target, _))) = (self.sync_started, self.best_seen) {
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                tracing::info!(
                    "sync: #{head} of #{target}, {:.0} blocks/s",
                    (head - from) as f64 / secs
                );
            }
            self.enter_slot();
        }
        self.maybe_sync();
    }

    /// Checks a peer's certificate for `header` against this node's quorum set.
    fn check_certificate(&self, header: &watt_primitives::Header, bytes: &[u8]) -> Result<(), String> {
        let cert: Certificate<AccountId> =
            wire::decode(bytes, wire::MAX_RESPONSE_BYTES, "certificate").map_err(|e| e.to_string())?;
        if cert.slot != header.number {
            return Err(format!("it is for slot {}", cert.slot));
        }
        let value = wire::decode_value(&cert.value).ok_or("its value is not a Watt value")?;
        if !value.matches(header) {
            return Err("its value does not match the header".into());
        }
        let genesis = self.driver.genesis;
        verify_certificate(&cert, &self.config.quorum_set, quorum_set_hash, |e| {
            envelope_signature_ok(e, &genesis)
        })
        .map_err(|e| e.to_string())
    }

    // ---- housekeeping ----

    fn on_tick(&mut self) {
        let slot = self.slot();
        if self.validator && !self.nominated {
            let idle_ms = now_ms().saturating_sub(self.driver.head.close_time);
            if self.chain.has_pending() {
                self.maybe_nominate("transactions waiting");
            } else if idle_ms >= self.config.empty_block_interval.as_millis() as u64 {
                self.maybe_nominate("empty-block interval");
            }
        }
        // An open slot without progress: ask peers what they said (we may have missed it).
        if self.progress_at.elapsed() >= self.config.stuck_after
            && self.last_state_request.elapsed() >= self.config.stuck_after
            && (self.nominated || self.scp.slot(slot).is_some() || !self.validator)
        {
            self.last_state_request = Instant::now();
            let peers: Vec<PeerId> = self.peers.iter().copied().collect();
            for p in peers {
                self.request(p, Request::ScpState(slot), Fetch::ScpState);
            }
            self.request_status_round();
        }
        if self.scp.lowest_slot_ahead().is_some_and(|s| s > slot) {
            self.request_status_round();
        }
        // Sets still missing: ask everyone again.
        let stale: Vec<Missing> = self
            .fetching
            .values()
            .filter(|(_, at)| at.elapsed() >= Duration::from_secs(2))
            .map(|(m, _)| *m)
            .collect();
        for m in stale {
            if self.driver.qsets.contains_key(&m.hash()) || self.driver.has_tx_set(&m.hash()) {
                self.fetching.remove(&m.hash());
            } else {
                self.fetch_from_all(m);
            }
        }
        if let Some((s, value)) = self.awaiting_set.clone() {
            if let Some(v) = wire::decode_value(&value) {
                if self.driver.has_tx_set(&v.tx_set_hash) {
                    self.on_externalized(s, value);
                }
            }
        }
    }
}
