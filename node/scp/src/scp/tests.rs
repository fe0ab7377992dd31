use super::*;
use crate::ballot::Ballot;
use crate::nomination::Nominate;
use crate::sim::SimDriver;
use std::collections::BTreeSet;

fn names() -> Vec<String> {
    ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect()
}

fn qset() -> QuorumSet<String> {
    QuorumSet::flat(3, names())
}

fn insane() -> QuorumSet<String> {
    QuorumSet::flat(0, names())
}

fn driver() -> SimDriver<String> {
    SimDriver::new([&qset(), &insane()])
}

fn node(config: ScpConfig) -> Scp<String> {
    Scp::new(&driver(), "A".to_string(), qset(), config, 1)
}

fn signed(slot: u64, from: &str, statement: Statement) -> Envelope<String> {
    let d = driver();
    let mut env = Envelope {
        slot,
        node: from.to_string(),
        qset_hash: d.quorum_set_hash(&qset()),
        statement,
        signature: vec![],
    };
    env.signature = d.sign(&env);
    env
}

fn nominate(values: &[&str]) -> Statement {
    Statement::Nominate(Nominate {
        votes: values.iter().map(|v| v.as_bytes().to_vec()).collect(),
        accepted: BTreeSet::new(),
    })
}

fn prepare(n: u32, v: &str) -> Statement {
    Statement::Ballot(BallotStatement::Prepare {
        ballot: Ballot::new(n, v.as_bytes().to_vec()),
        prepared: None,
        prepared_prime: None,
        n_c: 0,
        n_h: 0,
    })
}

fn externalize(v: &str) -> Statement {
    Statement::Ballot(BallotStatement::Externalize {
        commit: Ballot::new(1, v.as_bytes().to_vec()),
        n_h: 1,
    })
}

#[test]
fn bad_envelopes_are_refused_and_change_nothing() {
    let d = driver();
    let mut scp = node(ScpConfig::default());

    let mut forged = signed(1, "B", nominate(&["x"]));
    forged.signature = b"C".to_vec();
    assert_eq!(scp.receive(&d, forged), Err(EnvelopeError::BadSignature));

    let mut unknown = signed(1, "B", nominate(&["x"]));
    unknown.qset_hash = [7; 32];
    assert_eq!(scp.receive(&d, unknown), Err(EnvelopeError::UnknownQuorumSet([7; 32])));

    let mut bad_qset = signed(1, "B", nominate(&["x"]));
    bad_qset.qset_hash = d.quorum_set_hash(&insane());
    assert_eq!(scp.receive(&d, bad_qset), Err(EnvelopeError::InsaneQuorumSet));

    assert_eq!(
        scp.receive(&d, signed(1, "A", nominate(&["x"]))),
        Err(EnvelopeError::FromSelf)
    );
    assert!(matches!(
        scp.receive(&d, signed(102, "B", nominate(&["x"]))),
        Err(EnvelopeError::TooFarAhead { slot: 102, .. })
    ));
    assert!(scp.slot(1).is_none() && scp.buffered() == 0, "nothing was recorded");
    assert!(scp.state_envelopes(0).is_empty());

    // The same envelope, correctly signed, is taken.
    let (accepted, _) = scp.receive(&d, signed(1, "B", nominate(&["x"]))).unwrap();
    assert_eq!(accepted, Accepted::Processed);
    let slot = scp.slot(1).unwrap();
    assert!(slot.nomination().latest_statement(&"B".to_string()).is_some());
}

#[test]
fn an_externalize_needs_no_quorum_set() {
    let d = driver();
    let mut scp = node(ScpConfig::default());
    let mut env = signed(1, "B", externalize("x"));
    env.qset_hash = [9; 32];
    assert!(scp.receive(&d, env).is_ok());
}

#[test]
fn future_slots_are_buffered_within_the_bound_then_processed() {
    let d = driver();
    let config = ScpConfig {
        max_buffered: 3,
        ..ScpConfig::default()
    };
    let mut scp = node(config);
    let r = scp.receive(&d, signed(2, "B", nominate(&["x"]))).unwrap();
    assert_eq!(r, (Accepted::Buffered, vec![]));
    // A newer statement from the same node replaces the buffered one; an older one is ignored.
    scp.receive(&d, signed(2, "B", nominate(&["x", "y"]))).unwrap();
    scp.receive(&d, signed(2, "B", nominate(&["x"]))).unwrap();
    assert_eq!(scp.buffered(), 1);
    scp.receive(&d, signed(2, "B", prepare(1, "x"))).unwrap();
    scp.receive(&d, signed(3, "C", nominate(&["z"]))).unwrap();
    assert_eq!(scp.buffered(), 3);
    assert_eq!(
        scp.receive(&d, signed(2, "D", nominate(&["w"]))),
        Err(EnvelopeError::BufferFull(3))
    );
    assert_eq!(scp.lowest_slot_ahead(), Some(2));
    assert!(scp.slot(2).is_none(), "not processed before the node gets there");

    scp.start_slot(&d, 2);
    assert_eq!(scp.buffered(), 1, "slot 3 still waits");
    let slot = scp.slot(2).unwrap();
    let b = "B".to_string();
    assert_eq!(
        slot.nomination().latest_statement(&b).map(|n| n.votes.len()),
        Some(2),
        "the newest buffered statement was processed"
    );
    assert!(slot.ballot().current().is_none(), "one PREPARE alone moves nothing");
    assert!(slot.nomination().latest_statement(&"D".to_string()).is_none());
    assert_eq!(scp.state_envelopes(2).len(), 2);
}

#[test]
fn old_slots_are_purged() {
    let d = driver();
    let mut scp = node(ScpConfig {
        slots_to_keep: 2,
        ..ScpConfig::default()
    });
    scp.receive(&d, signed(1, "B", nominate(&["x"]))).unwrap();
    scp.receive(&d, signed(4, "B", nominate(&["x"]))).unwrap();
    scp.start_slot(&d, 5);
    assert!(scp.slot(1).is_none());
    assert!(scp.slot(4).is_some());
    assert_eq!(
        scp.receive(&d, signed(2, "C", nominate(&["x"]))),
        Err(EnvelopeError::TooOld { slot: 2, oldest: 3 })
    );
    scp.purge_below(5);
    assert!(scp.slot(4).is_none() && scp.state_envelopes(0).is_empty());
}

/// Drives A to externalize slot 1 with a value from three peers' EXTERNALIZE messages.
fn externalized_node(d: &SimDriver<String>) -> Scp<String> {
    let mut scp = node(ScpConfig::default());
    let mut outputs = vec![];
    for peer in ["B", "C", "D"] {
        outputs.extend(scp.receive(d, signed(1, peer, externalize("x"))).unwrap().1);
    }
    assert!(outputs.contains(&ScpOutput::Externalized {
        slot: 1,
        value: b"x".to_vec()
    }));
    assert_eq!(scp.externalized(1), Some(&b"x".to_vec()));
    scp
}

#[test]
fn a_peer_behind_gets_our_externalize() {
    let d = driver();
    let mut scp = externalized_node(&d);
    let (_, out) = scp.receive(&d, signed(1, "C", prepare(3, "y"))).unwrap();
    let [ScpOutput::SendTo(to, env)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(to, "C");
    assert!(d.verify(env) && env.node == "A");
    assert!(matches!(
        &env.statement,
        Statement::Ballot(BallotStatement::Externalize { commit, .. }) if commit.value == b"x"
    ));
    // A peer that is done too gets nothing.
    let (_, out) = scp.receive(&d, signed(1, "C", externalize("x"))).unwrap();
    assert!(out.is_empty());
    // The state handed to a peer that asks: everyone's latest, ours included.
    let state = scp.state_envelopes(1);
    let senders: BTreeSet<&str> = state.iter().map(|e| e.node.as_str()).collect();
    assert_eq!(senders, BTreeSet::from(["A", "B", "C", "D"]));
}

#[test]
fn a_restored_node_never_contradicts_itself() {
    let d = driver();
    // It had said: CONFIRM (2, x) with commit [1, 2]; it restarts.
    let confirm = Statement::Ballot(BallotStatement::Confirm {
        ballot: Ballot::new(2, b"x".to_vec()),
        n_prepared: 2,
        n_commit: 1,
        n_h: 2,
    });
    let mut scp = node(ScpConfig::default());
    let foreign = signed(1, "B", prepare(1, "y"));
    let own = signed(1, "A", confirm.clone());
    assert_eq!(
        scp.restore([foreign, own.clone()]),
        1,
        "only its own envelopes are taken"
    );
    assert_eq!(scp.own_envelopes(1), vec![own]);
    let slot = scp.slot(1).unwrap();
    assert_eq!(slot.ballot().commit(), Some(&Ballot::new(1, b"x".to_vec())));

    // Nominating another value and timing out moves the ballot on, never off x.
    let mut out = scp.nominate(&d, 1, b"y".to_vec(), vec![]);
    out.extend(scp.timeout(&d, 1, TimerKind::Ballot));
    let ballots: Vec<&BallotStatement> = out
        .iter()
        .filter_map(|o| match o {
            ScpOutput::Broadcast(Envelope {
                statement: Statement::Ballot(b),
                ..
            }) => Some(b),
            _ => None,
        })
        .collect();
    assert!(!ballots.is_empty(), "{out:?}");
    for b in ballots {
        assert_eq!(b.working_ballot().value, b"x", "{b:?}");
        assert!(b.is_newer_than(&match &confirm {
            Statement::Ballot(c) => c.clone(),
            _ => unreachable!(),
        }));
    }

    // A restored EXTERNALIZE is final and answers peers that are behind.
    let mut done = node(ScpConfig::default());
    assert_eq!(done.restore([signed(1, "A", externalize("z"))]), 1);
    assert_eq!(done.externalized(1), Some(&b"z".to_vec()));
    let (_, out) = done.receive(&d, signed(1, "B", prepare(1, "z"))).unwrap();
    assert!(matches!(out.as_slice(), [ScpOutput::SendTo(..)]), "{out:?}");
    assert!(done.nominate(&d, 1, b"w".to_vec(), vec![]).is_empty());
}

/// core5 "non-validator watching the network": a watcher runs the protocol on what it hears,
/// externalizes with the validators, and never sends a statement.
#[test]
fn a_watcher_externalizes_without_speaking() {
    let d = driver();
    let mut watcher = node(ScpConfig {
        validator: false,
        ..ScpConfig::default()
    });
    let mut out = watcher.nominate(&d, 1, b"w".to_vec(), vec![]);
    let confirm = Statement::Ballot(BallotStatement::Confirm {
        ballot: Ballot::new(1, b"x".to_vec()),
        n_prepared: 1,
        n_commit: 1,
        n_h: 1,
    });
    for peer in ["B", "C", "D"] {
        out.extend(watcher.receive(&d, signed(1, peer, nominate(&["x"]))).unwrap().1);
        out.extend(watcher.receive(&d, signed(1, peer, confirm.clone())).unwrap().1);
    }
    assert!(out.contains(&ScpOutput::Externalized {
        slot: 1,
        value: b"x".to_vec()
    }));
    assert!(
        !out.iter()
            .any(|o| matches!(o, ScpOutput::Broadcast(_) | ScpOutput::SendTo(..))),
        "{out:?}"
    );
    assert!(watcher.own_envelopes(0).is_empty());
}

/// What a slot refuses (insane, invalid) is not relayed to peers asking for the state.
#[test]
fn refused_statements_are_not_relayed() {
    let d = driver();
    let mut scp = node(ScpConfig::default());
    let insane = Statement::Ballot(BallotStatement::Confirm {
        ballot: Ballot::new(1, b"x".to_vec()),
        n_prepared: 1,
        n_commit: 3,
        n_h: 2,
    });
    let invalid = prepare(1, "INVALID-v");
    assert!(scp.receive(&d, signed(1, "B", insane)).is_ok());
    assert!(scp.receive(&d, signed(1, "C", invalid)).is_ok());
    assert!(scp.state_envelopes(1).is_empty());
    scp.receive(&d, signed(1, "D", prepare(1, "x"))).unwrap();
    assert_eq!(scp.state_envelopes(1).len(), 1);
}

/// What a peer that asks gets: each node's latest envelopes as their senders signed them, by
/// node (ours included), nomination before ballot; what the slot refused is not among them.
#[test]
fn the_state_handed_on_is_each_nodes_latest_envelopes_as_signed() {
    let d = driver();
    let mut scp = node(ScpConfig::default());
    scp.nominate(&d, 1, b"a".to_vec(), vec![]);
    let b_nominate = signed(1, "B", nominate(&["x"]));
    let b_prepare = signed(1, "B", prepare(1, "x"));
    let c_newer = signed(1, "C", nominate(&["x", "y"]));
    let c_older = signed(1, "C", nominate(&["x"]));
    let d_nominate = signed(1, "D", nominate(&["z"]));
    for env in [&d_nominate, &c_newer, &b_prepare, &b_nominate, &c_older] {
        scp.receive(&d, env.clone()).unwrap();
    }
    let mut expected = scp.own_envelopes(1);
    assert!(!expected.is_empty(), "we nominated");
    expected.extend([b_nominate, b_prepare, c_newer, d_nominate]);
    assert_eq!(scp.state_envelopes(1), expected);
    assert!(scp.state_envelopes(2).is_empty());
}
