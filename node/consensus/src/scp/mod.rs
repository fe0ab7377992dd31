//! The SCP engine: a validator (or a follower) agreeing on each block with the Stellar
//! Consensus Protocol over libp2p. SCP itself is the pure `watt-scp` state machine; this is
//! its driver (stellar-core's herder): it signs and checks envelopes, fetches the tx sets and
//! quorum sets a statement names before SCP sees it (so SCP never votes for a value whose set
//! the node lacks), arms timers on tokio, persists its own envelopes (and the sets they name)
//! before sending them, applies each externalized value with its finality certificate, and
//! catches up from peers when it falls behind.
//!
//! Slot N decides block N. A validator nominates for the slot after its head when a
//! transaction waits, when a peer has started the slot, or when the empty-block interval has
//! passed since the head closed.
//!
//! Everything a peer can send is admitted by cost, each defence in one module (issue 17):
//! - [`admission`]: envelopes of nodes outside the local transitive quorum are dropped before
//!   the signature check, any fetch or relay;
//! - [`txsets`]: the sets open slots need are pinned until applied; sets nothing names are
//!   kept per peer within a quota and never relayed;
//! - [`fetch`]: what envelopes name is asked of one peer at a time, capped, dropped with its slot;
//! - [`sync`]: claimed heights are hints, believed as far as blocks with valid certificates
//!   prove them; an empty answer costs the claimant; syncing never stops nomination;
//! - block-range and transaction requests are budgeted per peer; block ranges are read and
//!   imported off the consensus loop;
//! - pools converge: waiting transactions are pushed to peers again and nonce gaps pulled;
//! - [`intake`]: transactions from peers are admitted off the loop, in batches whose
//!   signatures are checked together, from a bounded queue (full: ignored, not relayed);
//!   gossip carries transactions in batches too ([`wire::encode_tx_batch`]).
//!
//! A node that finds its own block differs from the one its quorum built on stops with a
//! message saying so ([`ConsensusError::Diverged`]) instead of forking silently.

mod admission;
mod driver;
mod fetch;
mod intake;
mod persist;
mod proposer;
mod sync;
mod txsets;
pub mod wire;

pub use driver::{envelope_signature_ok, quorum_set_hash, WallClock};
pub use proposer::prove as proposer_proof;

/// The envelopes and transaction sets a validator persisted (its own latest envelopes and the
/// sets they name); `None` if `bytes` are not a persisted SCP state.
pub fn decode_persisted_state(bytes: &[u8]) -> Option<(Vec<WattEnvelope>, Vec<watt_primitives::TxSet>)> {
    persist::decode(bytes).map(|p| (p.envelopes, p.tx_sets))
}

use crate::{AgreementChain, ConsensusEngine, ConsensusError};
use admission::QuorumScope;
use driver::Driver;
use fetch::{Fetcher, Missing};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use parity_scale_codec::Encode;
use sp_core::{sr25519, Pair as _};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use sync as claims;
use sync::SyncClaims;
use tokio::time::Instant;
use watt_chain::ChainError;
use watt_network::{NetworkEvent, NetworkHandle, PeerId, Responder, Topic, Validation};
use watt_primitives::{AccountId, BlockNumber, ConsensusValue, Hash};
use watt_scp::certificate::{
    certificate_from_envelopes, certified_quorum, trim_certificate, verify_certificate, Certificate, CertificateError,
};
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
    /// The time of day (the system's, except in simulations).
    pub clock: WallClock,
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
            clock: WallClock::System,
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
    /// Whether the node is catching up from peers right now (synced blocks arrive and a peer
    /// still claims more).
    pub syncing: std::sync::atomic::AtomicBool,
    /// Envelopes dropped unread because their sender is outside the local transitive quorum.
    pub outside_quorum: AtomicU64,
    /// Failed attempts at applying an agreed value (a failure of this node, retried).
    pub apply_failures: AtomicU64,
    /// Transaction sets pinned for open slots (gauge).
    pub tx_sets_pinned: AtomicU64,
    /// Transaction sets held loose, named by nothing yet (gauge).
    pub tx_sets_loose: AtomicU64,
    /// Bytes of every transaction set held (gauge).
    pub tx_set_bytes: AtomicU64,
    /// Hashes wanted or being fetched (gauge).
    pub pending_fetches: AtomicU64,
    /// Envelopes parked waiting for what they name (gauge).
    pub parked: AtomicU64,
}

/// What an outstanding request was for.
enum Fetch {
    TxSet(Hash),
    QuorumSet(Hash),
    ScpState,
    Blocks,
    Status,
    /// A pull of a sender's missing nonces, or a push of waiting transactions.
    Transactions,
}

type FetchResult = (PeerId, Fetch, Result<Vec<u8>, watt_network::NetworkError>);

impl Missing {
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
                        Some(at) => tokio::time::sleep_until(at).await,
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
                    Some(tx) = relay_rx.recv() => publish_batch(&network, tx, &mut relay_rx),
                    _ = chain.transaction_arrived(), if validator && !nominated => state.maybe_nominate("transactions waiting"),
                    _ = timer => state.fire_timers(),
                    _ = tick.tick() => state.on_tick(),
                    Some(done) = state.fetches.next(), if !state.fetches.is_empty() => state.on_fetched(done),
                    Some(done) = state.imports.next(), if !state.imports.is_empty() => state.on_imported(done),
                }
                if let Some(why) = state.fatal.take() {
                    tracing::error!("{why}");
                    return Err(ConsensusError::Diverged(why));
                }
            }
        })
    }
}

/// Most encoded bytes of locally submitted transactions gossiped in one message.
const RELAY_BATCH_BYTES: usize = 256 << 10;

/// Gossips `first` and whatever else was submitted here meanwhile, up to
/// [`wire::MAX_TXS_PER_MESSAGE`] transactions or [`RELAY_BATCH_BYTES`], as one message
/// ([`wire::encode_tx_batch`]): at a trickle each goes alone at once, under load they share
/// messages instead of each taking a signature and a send-queue slot per peer.
fn publish_batch(network: &NetworkHandle, first: Vec<u8>, more: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut bytes = first.len();
    let mut batch = vec![first];
    while batch.len() < wire::MAX_TXS_PER_MESSAGE && bytes < RELAY_BATCH_BYTES {
        match more.try_recv() {
            Ok(tx) => {
                bytes += tx.len();
                batch.push(tx);
            }
            Err(_) => break,
        }
    }
    network.publish(Topic::Transactions, wire::encode_tx_batch(&batch));
}

/// Envelopes parked (waiting for what they name) at once. Only envelopes of the transitive
/// quorum are parked, the latest per node, slot and kind, so honest traffic needs a few per
/// node; the cap bounds what faulty members cost.
const PARKED_MAX: usize = 1_000;
/// Block-range requests served per peer per [`BLOCK_REQUEST_WINDOW`] (an honest syncing peer
/// has one outstanding at a time).
const BLOCK_REQUESTS_PER_WINDOW: u32 = 8;
const BLOCK_REQUEST_WINDOW: Duration = Duration::from_secs(5);
/// How often the pool is compared with peers: transactions waiting longer than this are pushed
/// to peers again, and nonce gaps are pulled.
const POOL_ROUND: Duration = Duration::from_secs(2);
/// Senders whose nonce gap is pulled per round, and peers pushed to per round.
const GAPS_PER_ROUND: usize = 32;
const PUSH_PEERS: usize = 16;
/// Transaction requests (pulls and pushes) served per peer per [`BLOCK_REQUEST_WINDOW`]: an
/// honest peer sends a few per [`POOL_ROUND`].
const TX_REQUESTS_PER_WINDOW: u32 = 40;
/// Attempts at applying an agreed value before the node gives up and stops: a failure of the
/// node itself (database, runtime instances) is retried every tick, about 30 s in all.
const APPLY_ATTEMPTS: u32 = 120;
/// Quorum sets kept by hash before the cache starts over (keeping the node's own).
const QSETS_KEPT: usize = 1_024;
/// Penalty for claiming blocks and serving none.
const OVERCLAIM_PENALTY: i32 = 20;

struct State<C: AgreementChain> {
    chain: Arc<C>,
    network: NetworkHandle,
    /// Transactions from peers, admitted off the loop.
    intake: intake::TxIntake,
    config: ScpEngineConfig,
    stats: Arc<ScpStats>,
    validator: bool,
    local: AccountId,
    driver: Driver<C>,
    scp: Scp<AccountId>,
    scope: QuorumScope,
    timers: BTreeMap<(u64, TimerKind), Instant>,
    nominated: bool,
    /// When the current slot last made progress (head moved, or we emitted).
    progress_at: Instant,
    last_state_request: Instant,
    last_status_round: Instant,
    /// Latest parked envelope per (slot, node, is-nomination).
    parked: BTreeMap<(u64, AccountId, bool), Parked>,
    fetcher: Fetcher,
    fetches: FuturesUnordered<BoxFuture<'static, FetchResult>>,
    /// The block range being imported off the loop (at most one).
    imports: FuturesUnordered<BoxFuture<'static, SyncBatch>>,
    importing: bool,
    /// When proven catch-up began, and from which head (for the progress log).
    sync_started: Option<(Instant, BlockNumber)>,
    peers: BTreeSet<PeerId>,
    claims: SyncClaims,
    /// A slot externalized whose set has not arrived yet (or failed to apply), and how many
    /// times applying it failed.
    awaiting_set: Option<(u64, Value)>,
    apply_failures: u32,
    /// Requests served per peer and kind (blocks, transactions) in the current window.
    served: HashMap<(PeerId, ServedKind), (Instant, u32)>,
    last_pool_round: Instant,
    /// Why the engine must stop (the node diverged from its quorum, or cannot apply).
    fatal: Option<String>,
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
            config.clock,
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
            intake: intake::TxIntake::spawn(chain.clone(), network.clone(), stats.clone()),
            scope: QuorumScope::new(config.quorum_set.clone()),
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
            parked: BTreeMap::new(),
            fetcher: Fetcher::default(),
            fetches: FuturesUnordered::new(),
            imports: FuturesUnordered::new(),
            importing: false,
            sync_started: None,
            peers: BTreeSet::new(),
            claims: SyncClaims::default(),
            awaiting_set: None,
            apply_failures: 0,
            served: HashMap::new(),
            last_pool_round: long_ago,
            fatal: None,
        }
    }

    fn slot(&self) -> u64 {
        self.driver.head.number + 1
    }

    /// Takes back the envelopes this node sent before a restart (draft §6: a node must never
    /// contradict a vote already cast), with the tx sets they name, so that the slot can still
    /// be decided after every validator restarted. The node nominates again (a new round with a
    /// set it holds): a restored nomination naming a set nobody has any more cannot hold the
    /// slot up.
    fn restore(&mut self) {
        let bytes = match self.chain.consensus_state() {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("cannot read the persisted SCP state: {e}");
                return;
            }
        };
        let Some(saved) = persist::decode(&bytes) else {
            tracing::error!("the persisted SCP state does not decode; starting without it");
            return;
        };
        let slot = self.slot();
        for set in saved.tx_sets {
            self.driver.sets.pin(Arc::new(set), slot);
        }
        let current: Vec<WattEnvelope> = saved.envelopes.into_iter().filter(|e| e.slot >= slot).collect();
        let restored = self.scp.restore(current.iter().cloned());
        if restored > 0 {
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
            // Persisted (synced) before anything leaves the node, with the sets they name.
            let own = self.scp.own_envelopes(self.slot());
            let mut hashes: BTreeSet<Hash> = BTreeSet::new();
            for e in &own {
                hashes.extend(named_sets(&e.statement).unwrap_or_default());
            }
            let sets: Vec<Arc<watt_primitives::TxSet>> =
                hashes.iter().filter_map(|h| self.driver.sets.get(h)).collect();
            if let Err(e) = self.chain.put_consensus_state(&persist::encode(&own, &sets)) {
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

    /// The certificate of `slot`'s `value` from the envelopes this node holds, checked as any
    /// peer will check it and trimmed to the quorum that certifies it (issue 17, item 5: a
    /// certificate carries what proves the slot, nothing else).
    fn own_certificate(&self, slot: u64, value: &Value) -> Result<Certificate<AccountId>, String> {
        let envelopes = self
            .scp
            .state_envelopes(slot)
            .into_iter()
            .filter(|e| e.slot == slot && (e.node == self.local || self.scope.contains(&e.node)));
        let cert = certificate_from_envelopes(slot, value, envelopes, |h| self.driver.qsets.get(h).cloned());
        let genesis = self.driver.genesis;
        let quorum = certified_quorum(&cert, &self.config.quorum_set, quorum_set_hash, |e| {
            envelope_signature_ok(e, &genesis)
        })
        .map_err(|e| e.to_string())?;
        Ok(trim_certificate(cert, &quorum, quorum_set_hash))
    }

    fn on_externalized(&mut self, slot: u64, value: Value) {
        if slot != self.slot() {
            return;
        }
        let Some(v) = wire::decode_value(&value) else {
            tracing::error!("slot {slot} externalized a value that is not a Watt value");
            return;
        };
        if v.parent_hash != self.driver.head_hash {
            // A quorum of the validators this node trusts agreed on a block after a block
            // #N other than ours: this node computed block #N differently (another runtime, a
            // bug, a corrupted database). Going on would fork silently; stop and say so.
            self.fatal = Some(format!(
                "the quorum agreed on block #{slot} with parent 0x{}, but this node's block #{} is 0x{}: \
                 this node's state differs from the network's (another runtime, --runtime-override, \
                 or a damaged database); stopping rather than forking. Resync this node from its peers.",
                hex(&v.parent_hash),
                self.driver.head.number,
                hex(&self.driver.head_hash),
            ));
            return;
        }
        let Some(set) = self.driver.sets.get(&v.tx_set_hash) else {
            tracing::info!("slot {slot} externalized; fetching its transaction set");
            self.awaiting_set = Some((slot, value));
            if self.driver.sets.want(v.tx_set_hash, slot, [0; 32]) != txsets::Want::Have {
                let hint = self.peers.iter().next().copied();
                if let Some(p) = hint {
                    self.need(Missing::TxSet(v.tx_set_hash), slot, p);
                }
            }
            return;
        };
        let cert = match self.own_certificate(slot, &value) {
            Ok(c) => c,
            Err(why) => {
                // Externalized here, so a quorum confirmed it; a certificate that does not
                // verify means envelopes are still missing: wait for them (the stuck-slot
                // state request fetches them) rather than store a certificate peers refuse.
                tracing::warn!("slot {slot} externalized but its certificate does not verify yet: {why}");
                self.awaiting_set = Some((slot, value));
                return;
            }
        };
        let rounds = self.scp.slot(slot).map(|s| s.nomination().round()).unwrap_or(1);
        match self.chain.apply_agreed(&v, &set, cert.encode()) {
            Ok(b) => {
                self.awaiting_set = None;
                self.apply_failures = 0;
                self.stats.slots_externalized.fetch_add(1, Relaxed);
                if rounds > 1 {
                    self.stats.slots_multi_round.fetch_add(1, Relaxed);
                }
                tracing::debug!(
                    "slot {slot} externalized with {} transactions, certified by {} validators",
                    b.tx_hashes.len(),
                    cert.envelopes.len()
                );
                self.driver.sets.applied(slot, v.tx_set_hash);
                self.on_new_head();
            }
            Err(ChainError::NotOnHead { .. }) => {
                tracing::warn!("slot {slot} externalized on a parent that is not our head; catching up");
                self.request_status_round();
            }
            // A failure of this node (database, instances): the value stays agreed; retried
            // every tick, within a bound.
            Err(e) => {
                self.apply_failures += 1;
                self.stats.apply_failures.fetch_add(1, Relaxed);
                if self.apply_failures >= APPLY_ATTEMPTS {
                    self.fatal = Some(format!(
                        "cannot apply the value agreed for block #{slot} after {} attempts: {e}",
                        self.apply_failures
                    ));
                    return;
                }
                tracing::error!(
                    "cannot apply the value externalized in slot {slot} (attempt {} of {APPLY_ATTEMPTS}, retrying): {e}",
                    self.apply_failures
                );
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
        self.apply_failures = 0;
        self.progress_at = Instant::now();
        let slot = self.slot();
        let head = self.driver.head.number;
        self.timers.retain(|(s, _), _| *s >= slot);
        self.parked = self.parked.split_off(&(slot, AccountId::from([0u8; 32]), false));
        self.driver.sets.release_through(head);
        self.fetcher.release_through(head);
        let out = self.scp.start_slot(&self.driver, slot);
        let peers_started = !out.is_empty() || self.scp.slot(slot).is_some();
        self.handle(out);
        if self.validator && (peers_started || self.chain.has_pending()) {
            self.maybe_nominate("next slot");
        }
    }

    /// Nominates for the slot after the head. Catching up does not stop it: a value for a
    /// slot the network has passed is ignored by the others, and a claim of being behind may be
    /// a lie (issue 17, item 3).
    fn maybe_nominate(&mut self, why: &str) {
        if !self.validator || self.nominated {
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
        let tx_set_hash = self.driver.sets.pin(Arc::new(set), slot);
        self.network.publish(Topic::TxSets, encoded);
        // Only a validator (a node with a key) gets here: `local` is its own account.
        let Some(key) = self.config.key.as_ref() else { return };
        let value = ConsensusValue {
            parent_hash: self.driver.head_hash,
            tx_set_hash,
            // The proposer's clock, and never before the parent closed (validators refuse such
            // values; this is the proposal, not a correction of an agreed time).
            close_time: self.driver.clock.now_ms().max(self.driver.head.close_time + 1),
            proposer: self.local,
            proposer_proof: proposer::prove(key, &self.driver.genesis, slot, &self.driver.head_hash, &tx_set_hash),
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
                self.claims.forget(&p);
                self.served.retain(|(q, _), _| *q != p);
            }
            NetworkEvent::Gossip { topic, from, id, data } => {
                let verdict = match topic {
                    Topic::ScpEnvelopes => self.on_envelope_bytes(from, &data),
                    Topic::TxSets => self.on_tx_set_bytes(from, &data),
                    // The verdict comes from the intake once the transaction is admitted.
                    Topic::Transactions => return self.intake.gossip(id, from, &data),
                };
                if verdict == Validation::Reject {
                    self.stats.refused.fetch_add(1, Relaxed);
                }
                self.network.report_validation(id, from, verdict);
            }
            NetworkEvent::Request { from, data, reply } => self.on_request(from, &data, reply),
        }
    }

    fn on_tx_set_bytes(&mut self, from: PeerId, data: &[u8]) -> Validation {
        match wire::decode_tx_set(data) {
            Ok(set) => self.on_tx_set(from, set),
            Err(e) => {
                self.network.report_peer(from, 25, &e.to_string());
                Validation::Reject
            }
        }
    }

    /// A transaction set arrived (gossiped, or the answer to a fetch). Relayed only when an
    /// open slot was waiting for it; otherwise kept loose within the peer's quota
    /// ([`txsets`]), so junk sets cost their sender its own quota and nothing more.
    fn on_tx_set(&mut self, from: PeerId, set: watt_primitives::TxSet) -> Validation {
        let (hash, offered) = self.driver.sets.offer(set, from);
        match offered {
            txsets::Offered::Pinned => {
                self.fetcher.done(&hash);
                self.unpark();
                if let Some((slot, value)) = self.awaiting_set.clone() {
                    self.on_externalized(slot, value);
                }
                Validation::Accept
            }
            txsets::Offered::Known | txsets::Offered::Loose => Validation::Ignore,
        }
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

    /// An envelope from a peer (gossip or a state answer). In order of cost: old slots, our
    /// own echoes and nodes outside the transitive quorum are dropped before anything else
    /// (stellar-core `Herder::recvSCPEnvelope`); then the signature; then what it names is
    /// wanted and fetched, within caps; it waits parked until all of it is here.
    fn on_envelope(&mut self, from: PeerId, env: WattEnvelope) -> Validation {
        self.stats.envelopes_in.fetch_add(1, Relaxed);
        if env.slot <= self.driver.head.number || env.node == self.local {
            return Validation::Ignore;
        }
        if !self.scope.contains(&env.node) {
            self.stats.outside_quorum.fetch_add(1, Relaxed);
            return Validation::Ignore;
        }
        if env.slot > self.slot().saturating_add(ScpConfig::default().max_slots_ahead) {
            self.request_status_round();
            return Validation::Ignore;
        }
        if !envelope_signature_ok(&env, &self.driver.genesis) {
            self.network.report_peer(from, 50, "SCP envelope with a bad signature");
            return Validation::Reject;
        }
        let Some(sets) = named_sets(&env.statement) else {
            self.network
                .report_peer(from, 50, "SCP envelope naming a value that is not a Watt value");
            return Validation::Reject;
        };
        if self.scope.note(env.node, env.qset_hash, &self.driver.qsets) {
            tracing::debug!("the transitive quorum now has {} nodes", self.scope.len());
            self.driver.proposers = self.scope.members().clone();
        }
        let mut missing = false;
        for h in sets {
            match self.driver.sets.want(h, env.slot, *env.node.as_bytes()) {
                txsets::Want::Have => {}
                txsets::Want::Missing(_) => {
                    missing = true;
                    self.need(Missing::TxSet(h), env.slot, from);
                }
                // Over its sender's share: the envelope cannot wait for it.
                txsets::Want::Refused => return Validation::Ignore,
            }
        }
        let externalize = is_externalize(&env.statement);
        if !self.driver.qsets.contains_key(&env.qset_hash) {
            // An EXTERNALIZE needs no quorum set to count, but certificates carry its sender's.
            self.need(Missing::QuorumSet(env.qset_hash), env.slot, from);
            missing |= !externalize;
        }
        if missing {
            let key = (env.slot, env.node, matches!(env.statement, Statement::Nominate(_)));
            if self.parked.len() < PARKED_MAX || self.parked.contains_key(&key) {
                self.parked.insert(key, Parked { env, from });
            }
            // Signed by a quorum member and naming well-formed values: worth relaying.
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
        let ready: Vec<(u64, AccountId, bool)> = self
            .parked
            .iter()
            .filter(|(_, p)| {
                named_sets(&p.env.statement).is_some_and(|sets| sets.iter().all(|h| self.driver.sets.has(h)))
                    && (self.driver.qsets.contains_key(&p.env.qset_hash) || is_externalize(&p.env.statement))
            })
            .map(|(k, _)| *k)
            .collect();
        for k in ready {
            if let Some(p) = self.parked.remove(&k) {
                self.feed(p.from, p.env);
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
            Request::TxSet(h) => match self.driver.sets.get(&h) {
                Some(s) => Response::TxSet(Some((*s).clone())),
                // A set of a recently applied slot: from the block store.
                None => match self.driver.sets.applied_block(&h) {
                    Some(n) => Response::TxSet(
                        self.chain
                            .block_at(n)
                            .ok()
                            .flatten()
                            .filter(|(b, _)| b.header.tx_root == h)
                            .map(|(b, _)| watt_primitives::TxSet {
                                transactions: b.transactions,
                            }),
                    ),
                    None => Response::TxSet(None),
                },
            },
            Request::QuorumSet(h) => Response::QuorumSet(self.driver.qsets.get(&h).cloned()),
            Request::ScpState(slot) => Response::ScpState(self.scp.state_envelopes(slot)),
            Request::Status => Response::Status(Status {
                genesis: self.driver.genesis,
                best_number: self.driver.head.number,
                best_hash: self.driver.head_hash,
            }),
            Request::Blocks { from: first, count } => {
                if !self.within_budget(from, ServedKind::Blocks) {
                    reply.send(Response::Error("too many block requests; slow down".into()).encode());
                    return;
                }
                // Reading and encoding up to 16 MiB of blocks is off the consensus loop.
                let chain = self.chain.clone();
                tokio::task::spawn_blocking(move || {
                    reply.send(Response::Blocks(serve_blocks(&*chain, first, count)).encode());
                });
                return;
            }
            Request::PooledFrom { sender, from_nonce } => {
                if !self.within_budget(from, ServedKind::Transactions) {
                    reply.send(Response::Error("too many transaction requests; slow down".into()).encode());
                    return;
                }
                Response::Transactions(self.chain.pooled_from(&sender, from_nonce, wire::MAX_TXS_PER_MESSAGE))
            }
            Request::PushTransactions(txs) => {
                if !self.within_budget(from, ServedKind::Transactions) {
                    reply.send(Response::Error("too many transaction requests; slow down".into()).encode());
                    return;
                }
                Response::Pushed(
                    self.intake
                        .from_request(txs.into_iter().take(wire::MAX_TXS_PER_MESSAGE).collect()),
                )
            }
        };
        reply.send(response.encode());
    }

    /// Counts a request of `kind` from `peer`; false once it is over its budget for the window.
    fn within_budget(&mut self, peer: PeerId, kind: ServedKind) -> bool {
        let now = Instant::now();
        let entry = self.served.entry((peer, kind)).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= BLOCK_REQUEST_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let limit = match kind {
            ServedKind::Blocks => BLOCK_REQUESTS_PER_WINDOW,
            ServedKind::Transactions => TX_REQUESTS_PER_WINDOW,
        };
        entry.1 <= limit
    }

    /// Pools converge (issue 17, item 4): transactions waiting too long are pushed to peers
    /// again (gossip does not resend what it has seen, and drops what it cannot queue), and a
    /// sender's missing nonce is pulled from a peer, so a gap left on one node heals by itself.
    fn pool_round(&mut self) {
        if self.last_pool_round.elapsed() < POOL_ROUND || self.peers.is_empty() {
            return;
        }
        self.last_pool_round = Instant::now();
        let peers: Vec<PeerId> = self.peers.iter().copied().collect();
        let gaps = self.chain.nonce_gaps();
        for (i, (sender, nonce)) in gaps.into_iter().take(GAPS_PER_ROUND).enumerate() {
            // Spread over the peers, a different one each round.
            let k = (i + self.stats.slots_externalized.load(Relaxed) as usize) % peers.len();
            self.request(
                peers[k],
                Request::PooledFrom {
                    sender,
                    from_nonce: nonce,
                },
                Fetch::Transactions,
            );
        }
        let stale = self.chain.stale_pending(POOL_ROUND, wire::MAX_TXS_PER_MESSAGE);
        if stale.is_empty() {
            return;
        }
        // Cut to what one request may carry.
        let budget = wire::MAX_REQUEST_BYTES - 1024;
        let mut batch = vec![];
        let mut bytes = 0;
        for tx in stale {
            if bytes + tx.len() + 4 > budget {
                break;
            }
            bytes += tx.len() + 4;
            batch.push(tx);
        }
        for p in peers.into_iter().take(PUSH_PEERS) {
            self.request(p, Request::PushTransactions(batch.clone()), Fetch::Transactions);
        }
    }

    // ---- requests ----

    fn request(&mut self, peer: PeerId, req: Request, kind: Fetch) {
        let network = self.network.clone();
        let bytes = req.encode();
        self.fetches.push(Box::pin(
            async move { (peer, kind, network.request(peer, bytes).await) },
        ));
    }

    /// `missing` is needed for `slot`; `hint` named it and is asked first ([`fetch`]).
    fn need(&mut self, missing: Missing, slot: u64, hint: PeerId) {
        if let Some(peer) = self.fetcher.need(missing, slot, hint, Instant::now()) {
            self.request(peer, missing.request(), missing.fetch());
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
                match kind {
                    Fetch::Blocks => self.claims.failed(peer),
                    Fetch::TxSet(h) | Fetch::QuorumSet(h) => self.fetcher.failed(&h, Instant::now()),
                    _ => {}
                }
                return;
            }
        };
        let response = match wire::decode_response(&bytes) {
            Ok(r) => r,
            Err(e) => {
                self.network.report_peer(peer, 25, &e.to_string());
                if matches!(kind, Fetch::Blocks) {
                    self.claims.failed(peer);
                }
                return;
            }
        };
        match (kind, response) {
            (Fetch::TxSet(h), Response::TxSet(Some(set))) => {
                if set.hash() != h {
                    self.network
                        .report_peer(peer, 50, "sent a transaction set other than the one asked for");
                    return;
                }
                self.on_tx_set(peer, set);
            }
            (Fetch::QuorumSet(h), Response::QuorumSet(Some(q))) => {
                if quorum_set_hash(&q) != h || !q.problems().is_empty() {
                    self.network.report_peer(peer, 50, "sent a wrong or insane quorum set");
                    return;
                }
                self.fetcher.done(&h);
                // Only members of the transitive quorum make the node fetch a quorum set; the
                // cap bounds what members changing their sets over and over can cost.
                if self.driver.qsets.len() >= QSETS_KEPT {
                    let local = quorum_set_hash(&self.config.quorum_set);
                    self.driver.qsets.retain(|k, _| *k == local);
                }
                self.driver.qsets.insert(h, q);
                if self.scope.qset_known(&h, &self.driver.qsets) {
                    self.driver.proposers = self.scope.members().clone();
                }
                self.unpark();
            }
            (Fetch::TxSet(h), _) | (Fetch::QuorumSet(h), _) => self.fetcher.failed(&h, Instant::now()),
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
                if s.best_number > self.driver.head.number {
                    self.claims.claim(peer, s.best_number);
                }
                self.maybe_sync();
            }
            (Fetch::Blocks, Response::Blocks(blocks)) => self.on_blocks(peer, blocks),
            (Fetch::Transactions, Response::Transactions(txs)) => {
                self.intake
                    .from_request(txs.into_iter().take(wire::MAX_TXS_PER_MESSAGE).collect());
            }
            (Fetch::Blocks, _) => {
                self.claims.failed(peer);
                self.maybe_sync();
            }
            (_, Response::Error(e)) => tracing::debug!("peer {peer} could not serve a request: {e}"),
            _ => {}
        }
    }

    // ---- catch-up ----

    fn maybe_sync(&mut self) {
        let head = self.driver.head.number;
        let was = self.stats.syncing.load(Relaxed);
        let now = self.claims.syncing(head);
        if was != now {
            self.stats.syncing.store(now, Relaxed);
        }
        if !now && self.sync_started.take().is_some() {
            tracing::info!("caught up at #{head}; taking part in consensus");
        }
        if self.importing {
            return;
        }
        if let Some((peer, from, count)) = self.claims.next_request(head, Instant::now()) {
            self.request(peer, Request::Blocks { from, count }, Fetch::Blocks);
        }
    }

    /// A block range arrived: checked and imported off the consensus loop (importing 64 blocks
    /// takes seconds; the loop keeps voting meanwhile, issue 17 item 7).
    fn on_blocks(&mut self, peer: PeerId, blocks: Vec<(watt_primitives::Block, Option<Vec<u8>>)>) {
        let chain = self.chain.clone();
        let genesis = self.driver.genesis;
        let trusted = self.config.quorum_set.clone();
        let stats = self.stats.clone();
        self.importing = true;
        self.imports.push(Box::pin(async move {
            let task =
                tokio::task::spawn_blocking(move || import_blocks(&*chain, &genesis, &trusted, &stats, peer, blocks));
            task.await.unwrap_or_else(|e| SyncBatch {
                peer,
                served: 0,
                imported: 0,
                penalty: None,
                failure: Some(format!("the import task failed: {e}")),
            })
        }));
    }

    fn on_imported(&mut self, batch: SyncBatch) {
        self.importing = false;
        if let Some((penalty, why)) = &batch.penalty {
            self.network.report_peer(batch.peer, *penalty, why);
        }
        if let Some(e) = &batch.failure {
            tracing::error!("sync failed: {e}");
        }
        let old_head = self.driver.head.number;
        let (header, hash) = self.chain.head();
        let head = header.number;
        if let claims::Verdict::Overclaimed(why) = self.claims.answered(batch.peer, batch.served, batch.imported, head)
        {
            self.network.report_peer(batch.peer, OVERCLAIM_PENALTY, &why);
        }
        if hash != self.driver.head_hash {
            let target = self.claims.best_above(0).map_or(head, |(n, _)| n.max(head));
            if batch.imported > 0 {
                let (started, from) = *self.sync_started.get_or_insert_with(|| {
                    // Only now, with blocks proven, is the node known to be behind.
                    tracing::info!("behind: at #{old_head}, peers at #{target}; syncing");
                    (Instant::now(), old_head)
                });
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                tracing::info!(
                    "sync: #{head} of #{target}, {:.0} blocks/s",
                    (head - from) as f64 / secs
                );
            }
            self.driver.head = header;
            self.driver.head_hash = hash;
            self.enter_slot();
        }
        self.maybe_sync();
    }

    // ---- housekeeping ----

    fn on_tick(&mut self) {
        let slot = self.slot();
        if self.validator && !self.nominated {
            let idle_ms = self.driver.clock.now_ms().saturating_sub(self.driver.head.close_time);
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
        // What is still missing: the next peer in turn.
        for (m, peer) in self.fetcher.due(&self.peers, Instant::now()) {
            if self.driver.qsets.contains_key(&m.hash()) || self.driver.sets.has(&m.hash()) {
                self.fetcher.done(&m.hash());
            } else {
                self.request(peer, m.request(), m.fetch());
            }
        }
        self.maybe_sync();
        if let Some((s, value)) = self.awaiting_set.clone() {
            if let Some(v) = wire::decode_value(&value) {
                if self.driver.sets.has(&v.tx_set_hash) {
                    self.on_externalized(s, value);
                }
            }
        }
        self.pool_round();
        let now = Instant::now();
        self.served
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < BLOCK_REQUEST_WINDOW);
        let (pinned, pinned_bytes, loose, loose_bytes, wanted) = self.driver.sets.sizes();
        self.stats.tx_sets_pinned.store(pinned as u64, Relaxed);
        self.stats
            .tx_set_bytes
            .store((pinned_bytes + loose_bytes) as u64, Relaxed);
        self.stats.tx_sets_loose.store(loose as u64, Relaxed);
        self.stats
            .pending_fetches
            .store((self.fetcher.len() + wanted) as u64, Relaxed);
        self.stats.parked.store(self.parked.len() as u64, Relaxed);
    }
}

/// Kinds of request budgeted per peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ServedKind {
    Blocks,
    Transactions,
}

/// How a peer's certificate failed.
enum CertCheck {
    /// Well-formed, but not certified by a quorum this node trusts.
    Untrusted(String),
    /// Provably wrong.
    Bad(String),
}

/// What came of importing a peer's block range.
struct SyncBatch {
    peer: PeerId,
    served: usize,
    imported: u64,
    /// The peer served something provably wrong.
    penalty: Option<(i32, String)>,
    /// This node failed (database, runtime): not the peer's doing.
    failure: Option<String>,
}

/// Checks each block's certificate against `trusted` and imports it, in order, stopping at the
/// first that does not follow the head or fails.
fn import_blocks<C: AgreementChain>(
    chain: &C,
    genesis: &Hash,
    trusted: &QuorumSet<AccountId>,
    stats: &ScpStats,
    peer: PeerId,
    blocks: Vec<(watt_primitives::Block, Option<Vec<u8>>)>,
) -> SyncBatch {
    let mut batch = SyncBatch {
        peer,
        served: blocks.len(),
        imported: 0,
        penalty: None,
        failure: None,
    };
    for (block, cert) in blocks {
        let number = block.header.number;
        // Consensus may have applied the block meanwhile: nothing wrong, just done.
        if number != chain.head().0.number + 1 {
            break;
        }
        let Some(cert_bytes) = cert else {
            batch.penalty = Some((50, "served a block without a finality certificate".into()));
            break;
        };
        match check_certificate(genesis, trusted, &block.header, &cert_bytes) {
            Ok(()) => {}
            // The peer trusts other validators than this node does: not misbehaviour
            // (issue 17, item 5), only of no use to this node.
            Err(CertCheck::Untrusted(why)) => {
                tracing::debug!(
                    "block #{number} from {peer} is certified by validators this node does not trust: {why}"
                );
                break;
            }
            Err(CertCheck::Bad(why)) => {
                batch.penalty = Some((100, format!("served block #{number} with a bad certificate: {why}")));
                break;
            }
        }
        match chain.import_certified(block, &cert_bytes) {
            Ok(_) => {
                batch.imported += 1;
                stats.blocks_synced.fetch_add(1, Relaxed);
            }
            // The block contradicts its own header: the peer served a bad block.
            Err(e @ ChainError::InvalidBlock(_)) => {
                batch.penalty = Some((100, format!("served block #{number} that does not import: {e}")));
                break;
            }
            Err(ChainError::NotOnHead { .. }) => break,
            // A failure of this node (database, runtime instance): the next status round retries.
            Err(e) => {
                batch.failure = Some(format!("cannot import synced block #{number}: {e}"));
                break;
            }
        }
    }
    batch
}

/// Checks a peer's certificate for `header` against the trusted quorum set.
fn check_certificate(
    genesis: &Hash,
    trusted: &QuorumSet<AccountId>,
    header: &watt_primitives::Header,
    bytes: &[u8],
) -> Result<(), CertCheck> {
    let cert: Certificate<AccountId> =
        wire::decode(bytes, wire::MAX_RESPONSE_BYTES, "certificate").map_err(|e| CertCheck::Bad(e.to_string()))?;
    if cert.slot != header.number {
        return Err(CertCheck::Bad(format!("it is for slot {}", cert.slot)));
    }
    let value = wire::decode_value(&cert.value).ok_or(CertCheck::Bad("its value is not a Watt value".into()))?;
    if !value.matches(header) {
        return Err(CertCheck::Bad("its value does not match the header".into()));
    }
    verify_certificate(&cert, trusted, quorum_set_hash, |e| envelope_signature_ok(e, genesis)).map_err(|e| match e {
        CertificateError::NoTrustedQuorum { .. } => CertCheck::Untrusted(e.to_string()),
        e => CertCheck::Bad(e.to_string()),
    })
}

/// Blocks `first..first+count` with their certificates, cut to fit a response.
fn serve_blocks<C: AgreementChain>(
    chain: &C,
    first: BlockNumber,
    count: u32,
) -> Vec<(watt_primitives::Block, Option<Vec<u8>>)> {
    let count = count.min(wire::MAX_BLOCKS_PER_REQUEST) as u64;
    let mut blocks = vec![];
    let mut bytes = 0usize;
    for n in first..first.saturating_add(count) {
        match chain.block_at(n) {
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
    blocks
}

fn is_externalize(st: &Statement) -> bool {
    matches!(
        st,
        Statement::Ballot(watt_scp::ballot::BallotStatement::Externalize { .. })
    )
}

/// The hashes of every value a statement names, or `None` if one is not a Watt value.
fn named_sets(st: &Statement) -> Option<Vec<Hash>> {
    let values: Vec<&Value> = match st {
        Statement::Nominate(n) => n.votes.iter().chain(n.accepted.iter()).collect(),
        Statement::Ballot(b) => b.values(),
    };
    values
        .into_iter()
        .map(|v| wire::decode_value(v).map(|cv| cv.tx_set_hash))
        .collect()
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}
