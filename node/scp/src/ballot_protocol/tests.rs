//! Scenarios after stellar-core's "ballot protocol core5": v0..v4, each 4-of-{v0..v4}; we are v0.

use super::*;

fn v(i: usize) -> String {
    format!("v{i}")
}

fn qset() -> QuorumSet<String> {
    QuorumSet::flat(4, (0..5).map(v).collect())
}

fn x() -> Value {
    b"x".to_vec()
}

fn y() -> Value {
    b"y".to_vec()
}

fn b(n: u32, val: Value) -> Ballot {
    Ballot::new(n, val)
}

struct Driver;
impl BallotDriver for Driver {
    fn validate(&self, _: u64, value: &Value) -> Validity {
        if value == b"bad" {
            Validity::Invalid
        } else {
            Validity::Valid
        }
    }
}

fn prepare(ballot: Ballot, p: Option<Ballot>, n_c: u32, n_h: u32) -> BallotStatement {
    BallotStatement::Prepare {
        ballot,
        prepared: p,
        prepared_prime: None,
        n_c,
        n_h,
    }
}

fn confirm(ballot: Ballot, n_prepared: u32, n_commit: u32, n_h: u32) -> BallotStatement {
    BallotStatement::Confirm {
        ballot,
        n_prepared,
        n_commit,
        n_h,
    }
}

fn emitted(fx: &[BallotEffect]) -> Vec<BallotStatement> {
    fx.iter()
        .filter_map(|e| {
            if let BallotEffect::Emit(s) = e {
                Some(s.clone())
            } else {
                None
            }
        })
        .collect()
}

/// Delivers `st` from each of `from`, returning every effect.
fn from_each(bp: &mut BallotProtocol<String>, from: &[usize], st: &BallotStatement) -> Vec<BallotEffect> {
    from.iter()
        .flat_map(|i| bp.receive(&Driver, &v(*i), st.clone(), Some(qset().into())))
        .collect()
}

fn started() -> BallotProtocol<String> {
    let mut bp = BallotProtocol::new(1, v(0), qset());
    let fx = bp.bump(&Driver, x(), false);
    assert_eq!(emitted(&fx), vec![prepare(b(1, x()), None, 0, 0)]);
    assert!(
        !fx.iter().any(|e| matches!(e, BallotEffect::ArmTimer { .. })),
        "no quorum at our counter yet"
    );
    bp
}

#[test]
fn prepared_confirmed_commit_externalize() {
    let mut bp = started();
    // Votes to prepare (1,x) from v1, v2: with us 3 of 5, not yet a quorum.
    assert!(emitted(&from_each(&mut bp, &[1, 2], &prepare(b(1, x()), None, 0, 0))).is_empty());
    let fx = from_each(&mut bp, &[3], &prepare(b(1, x()), None, 0, 0));
    assert_eq!(
        emitted(&fx),
        vec![prepare(b(1, x()), Some(b(1, x())), 0, 0)],
        "accept prepared"
    );
    assert!(
        fx.contains(&BallotEffect::ArmTimer { delay_ms: 1000 }),
        "a quorum is at our counter"
    );

    let accepted = prepare(b(1, x()), Some(b(1, x())), 0, 0);
    assert!(emitted(&from_each(&mut bp, &[1, 2], &accepted)).is_empty());
    let fx = from_each(&mut bp, &[3], &accepted);
    assert_eq!(
        emitted(&fx),
        vec![prepare(b(1, x()), Some(b(1, x())), 1, 1)],
        "confirm prepared: c = h = (1,x)"
    );
    assert!(fx.contains(&BallotEffect::ConfirmedPrepared(b(1, x()))));

    let voting_commit = prepare(b(1, x()), Some(b(1, x())), 1, 1);
    assert!(emitted(&from_each(&mut bp, &[1, 2], &voting_commit)).is_empty());
    let fx = from_each(&mut bp, &[3], &voting_commit);
    assert_eq!(emitted(&fx), vec![confirm(b(1, x()), 1, 1, 1)], "accept commit");
    assert_eq!(bp.phase(), Phase::Confirm);
    assert!(fx.contains(&BallotEffect::AcceptedCommit(b(1, x()))));

    let accepting_commit = confirm(b(1, x()), 1, 1, 1);
    assert!(emitted(&from_each(&mut bp, &[1, 2], &accepting_commit)).is_empty());
    let fx = from_each(&mut bp, &[3], &accepting_commit);
    assert_eq!(
        emitted(&fx),
        vec![BallotStatement::Externalize {
            commit: b(1, x()),
            n_h: 1
        }]
    );
    assert!(fx.contains(&BallotEffect::Externalized(x())));
    assert_eq!(bp.phase(), Phase::Externalize);
    // Final: no more bumps, no incompatible statements recorded.
    assert!(bp.timeout(&Driver).is_empty());
    assert!(bp
        .receive(&Driver, &v(4), prepare(b(9, y()), None, 0, 0), Some(qset().into()))
        .is_empty());
}

#[test]
fn a_v_blocking_set_of_acceptances_prepares_another_value() {
    let mut bp = started();
    let fx = from_each(&mut bp, &[1, 2], &prepare(b(1, y()), Some(b(1, y())), 0, 0));
    // y > x, so (1,y) is prepared and our ballot moves up to it only once confirmed; here we
    // only accept it as prepared.
    assert_eq!(bp.prepared(), Some(&b(1, y())));
    assert_eq!(emitted(&fx).last().map(|s| s.working_ballot()), Some(b(1, x())));
}

#[test]
fn an_incompatible_acceptance_becomes_p_prime() {
    let mut bp = started();
    from_each(&mut bp, &[1, 2, 3], &prepare(b(1, x()), None, 0, 0));
    assert_eq!(bp.prepared(), Some(&b(1, x())));
    // A v-blocking set accepted (2,y): it becomes p, and (1,x) drops to p'.
    from_each(&mut bp, &[1, 2], &prepare(b(2, y()), Some(b(2, y())), 0, 0));
    assert_eq!(bp.prepared(), Some(&b(2, y())));
    assert_eq!(bp.prepared_prime(), Some(&b(1, x())));
}

#[test]
fn a_v_blocking_set_ahead_bumps_to_the_lowest_safe_counter() {
    let mut bp = started();
    bp.receive(&Driver, &v(1), prepare(b(3, x()), None, 0, 0), Some(qset().into()));
    assert_eq!(bp.current(), Some(&b(1, x())), "one node ahead is not v-blocking");
    let fx = bp.receive(&Driver, &v(2), prepare(b(5, x()), None, 0, 0), Some(qset().into()));
    // {v1, v2} are ahead of 1; above 3 only v2 is, which is not v-blocking: move to 3.
    assert_eq!(bp.current(), Some(&b(3, x())));
    assert_eq!(emitted(&fx), vec![prepare(b(3, x()), None, 0, 0)]);
}

#[test]
fn the_timer_moves_to_the_next_counter() {
    let mut bp = started();
    from_each(&mut bp, &[1, 2, 3], &prepare(b(1, x()), None, 0, 0));
    assert!(bp.heard_from_quorum());
    let fx = bp.timeout(&Driver);
    assert_eq!(bp.current(), Some(&b(2, x())));
    assert_eq!(emitted(&fx), vec![prepare(b(2, x()), Some(b(1, x())), 0, 0)]);
    assert!(!bp.heard_from_quorum(), "nobody else is at counter 2 yet");
    let fx = from_each(&mut bp, &[1, 2, 3], &prepare(b(2, x()), Some(b(1, x())), 0, 0));
    assert!(
        fx.contains(&BallotEffect::ArmTimer { delay_ms: 2000 }),
        "the timeout grows with the counter"
    );
}

#[test]
fn insane_stale_and_invalid_statements_are_ignored() {
    let mut bp = started();
    let bad_value = prepare(Ballot::new(1, b"bad".to_vec()), None, 0, 0);
    assert!(bp.receive(&Driver, &v(1), bad_value, Some(qset().into())).is_empty());
    let insane = prepare(b(0, x()), None, 0, 0);
    assert!(bp.receive(&Driver, &v(1), insane, Some(qset().into())).is_empty());
    bp.receive(&Driver, &v(1), prepare(b(2, x()), None, 0, 0), Some(qset().into()));
    bp.receive(&Driver, &v(1), prepare(b(1, x()), None, 0, 0), Some(qset().into()));
    // v1 is still at 2: with v2 at 2 as well, {v1, v2} bump us to 2.
    bp.receive(&Driver, &v(2), prepare(b(2, x()), None, 0, 0), Some(qset().into()));
    assert_eq!(bp.current(), Some(&b(2, x())));
}

fn externalize(commit: Ballot, n_h: u32) -> BallotStatement {
    BallotStatement::Externalize { commit, n_h }
}

/// core5 "conflicting prepared B" and "switching value": a v-blocking set accepts (1,y) as
/// prepared, then a quorum confirms it; our ballot switches from x to y and votes to commit it.
#[test]
fn a_confirmed_conflicting_prepared_ballot_switches_the_value() {
    let mut bp = started();
    let fx = from_each(&mut bp, &[1, 2], &prepare(b(1, y()), Some(b(1, y())), 0, 0));
    assert_eq!(emitted(&fx), vec![prepare(b(1, x()), Some(b(1, y())), 0, 0)]);
    let fx = from_each(&mut bp, &[3], &prepare(b(1, y()), Some(b(1, y())), 0, 0));
    assert_eq!(
        emitted(&fx),
        vec![prepare(b(1, y()), Some(b(1, y())), 1, 1)],
        "confirmed prepared (1,y): b switches to y, c = h = 1"
    );
    assert!(fx.contains(&BallotEffect::ConfirmedPrepared(b(1, y()))));
    // The composite x from nomination no longer steers: the next counter keeps y.
    let fx = bp.bump(&Driver, x(), true);
    assert_eq!(emitted(&fx)[0].working_ballot(), b(2, y()));
}

/// core5 "v-blocking confirm / externalize": EXTERNALIZE messages from a v-blocking set make
/// us accept the commit (CONFIRM with the infinite interval's end), one more member of a
/// quorum makes it final.
#[test]
fn externalize_messages_from_a_v_blocking_set_then_a_quorum_finish_the_slot() {
    let mut bp = started();
    let ext = externalize(b(2, x()), 3);
    let fx = from_each(&mut bp, &[1, 2], &ext);
    assert_eq!(bp.phase(), Phase::Confirm);
    assert_eq!(
        emitted(&fx),
        vec![confirm(b(u32::MAX, x()), u32::MAX, 2, u32::MAX)],
        "accepted commit of x for [2, inf)"
    );
    assert!(!fx.iter().any(|e| matches!(e, BallotEffect::Externalized(_))));
    let fx = from_each(&mut bp, &[3], &ext);
    assert!(fx.contains(&BallotEffect::Externalized(x())), "{fx:?}");
    assert_eq!(emitted(&fx), vec![externalize(b(2, x()), u32::MAX)]);
}

/// core5 "v-blocking confirm": CONFIRM messages from a v-blocking set (they accepted the
/// commit) move us to CONFIRM without a quorum.
#[test]
fn confirm_messages_from_a_v_blocking_set_accept_the_commit() {
    let mut bp = started();
    let fx = from_each(&mut bp, &[1, 2], &confirm(b(2, x()), 2, 1, 2));
    assert_eq!(bp.phase(), Phase::Confirm);
    assert_eq!(emitted(&fx), vec![confirm(b(2, x()), 2, 1, 2)]);
    assert_eq!(bp.commit(), Some(&b(1, x())));
}

/// core5 "timeout when h is set": the next counter keeps h's value, not the composite.
#[test]
fn a_timeout_with_h_set_keeps_h_value() {
    let mut bp = started();
    from_each(&mut bp, &[1, 2, 3], &prepare(b(1, y()), Some(b(1, y())), 0, 0));
    assert_eq!(bp.high(), Some(&b(1, y())));
    let fx = bp.timeout(&Driver);
    assert_eq!(emitted(&fx), vec![prepare(b(2, y()), Some(b(1, y())), 1, 1)]);
}

/// core5 "timeout when h cannot be set": without a confirmed prepared ballot the next counter
/// takes the latest composite.
#[test]
fn a_timeout_without_h_takes_the_composite() {
    let mut bp = started();
    bp.bump(&Driver, y(), false);
    assert_eq!(bp.current(), Some(&b(1, x())), "no forced bump: the ballot stays");
    let fx = bp.timeout(&Driver);
    assert_eq!(emitted(&fx), vec![prepare(b(2, y()), None, 0, 0)]);
}

/// core5 "timeout from multiple nodes": the timer is armed once per counter when a quorum is
/// there, not again for more messages at that counter, and anew after a v-blocking bump once
/// a quorum follows.
#[test]
fn the_ballot_timer_is_armed_once_per_counter() {
    let mut bp = started();
    let arms = |fx: &[BallotEffect]| fx.iter().filter(|e| matches!(e, BallotEffect::ArmTimer { .. })).count();
    let fx = from_each(&mut bp, &[1, 2, 3], &prepare(b(1, x()), None, 0, 0));
    assert_eq!(arms(&fx), 1);
    assert_eq!(arms(&from_each(&mut bp, &[4], &prepare(b(1, x()), None, 0, 0))), 0);
    // v1, v2 move to counter 2: v-blocking, so we follow; the timer waits for a quorum at 2.
    let fx = from_each(&mut bp, &[1, 2], &prepare(b(2, x()), None, 0, 0));
    assert_eq!(bp.current().map(|c| c.counter), Some(2));
    assert!(
        fx.contains(&BallotEffect::CancelTimer),
        "the counter-1 timer must not abandon counter 2: {fx:?}"
    );
    assert_eq!(arms(&fx), 0);
    let fx = from_each(&mut bp, &[3], &prepare(b(2, x()), None, 0, 0));
    assert_eq!(arms(&fx), 1);
    assert_eq!(
        fx.iter().find(|e| matches!(e, BallotEffect::ArmTimer { .. })),
        Some(&BallotEffect::ArmTimer { delay_ms: 2000 })
    );
}

/// core5 "restore from saved state": PREPARE with p and p', then CONFIRM; what is said next
/// is newer than the restored statement and keeps its commitments.
#[test]
fn restored_state_is_built_on_not_contradicted() {
    let restored = BallotStatement::Prepare {
        ballot: b(2, y()),
        prepared: Some(b(2, y())),
        prepared_prime: Some(b(1, x())),
        n_c: 0,
        n_h: 0,
    };
    let mut bp = BallotProtocol::new(1, v(0), qset());
    assert!(bp.restore(restored.clone()));
    assert!(!bp.restore(restored.clone()), "only into a fresh slot");
    assert_eq!(
        (bp.prepared(), bp.prepared_prime()),
        (Some(&b(2, y())), Some(&b(1, x())))
    );
    assert_eq!(bp.last_emitted(), Some(&restored));
    let fx = bp.bump(&Driver, x(), false);
    assert!(fx.is_empty(), "a restored ballot is not restarted");
    let fx = bp.timeout(&Driver);
    let next = emitted(&fx);
    assert_eq!(next.len(), 1);
    assert!(next[0].is_newer_than(&restored));
    assert_eq!(next[0].working_ballot().counter, 3);

    let mut bp = BallotProtocol::new(1, v(0), qset());
    assert!(bp.restore(confirm(b(3, x()), 3, 2, 3)));
    assert_eq!(bp.phase(), Phase::Confirm);
    // Even a v-blocking set preparing y at a higher counter cannot move us off x.
    from_each(&mut bp, &[1, 2], &prepare(b(9, y()), Some(b(9, y())), 0, 0));
    assert_eq!(bp.current().map(|c| c.value.clone()), Some(x()));
    assert!(!bp.restore(externalize(b(0, x()), 0)), "insane statements are refused");
}

/// stellar-core "ballot protocol core3": v0, v1, v2 with 2 of 3 each, so we and one peer are a
/// quorum and two peers are v-blocking.
mod core3 {
    use super::*;

    fn qset3() -> QuorumSet<String> {
        QuorumSet::flat(2, (0..3).map(v).collect())
    }

    fn send(bp: &mut BallotProtocol<String>, from: &[usize], st: &BallotStatement) -> Vec<BallotEffect> {
        from.iter()
            .flat_map(|i| bp.receive(&Driver, &v(*i), st.clone(), Some(qset3().into())))
            .collect()
    }

    fn started3() -> BallotProtocol<String> {
        let mut bp = BallotProtocol::new(1, v(0), qset3());
        bp.bump(&Driver, x(), false);
        bp
    }

    /// "prepared B1 (quorum votes B1) local aborted": the two others vote (1,y); their
    /// slices are satisfied without us, and together they are a slice of ours, so we accept
    /// (1,y) prepared though we voted (1,x).
    #[test]
    fn a_quorum_without_us_prepares_another_value() {
        let mut bp = started3();
        let fx = send(&mut bp, &[1, 2], &prepare(b(1, y()), None, 0, 0));
        assert_eq!(emitted(&fx), vec![prepare(b(1, x()), Some(b(1, y())), 0, 0)]);
    }

    /// One peer and we are a quorum: the whole path to EXTERNALIZE with a single peer.
    #[test]
    fn one_peer_and_we_close_the_slot() {
        let mut bp = started3();
        let fx = send(&mut bp, &[1], &prepare(b(1, x()), None, 0, 0));
        assert_eq!(emitted(&fx), vec![prepare(b(1, x()), Some(b(1, x())), 0, 0)]);
        let fx = send(&mut bp, &[1], &prepare(b(1, x()), Some(b(1, x())), 0, 0));
        assert_eq!(emitted(&fx), vec![prepare(b(1, x()), Some(b(1, x())), 1, 1)]);
        let fx = send(&mut bp, &[1], &prepare(b(1, x()), Some(b(1, x())), 1, 1));
        assert_eq!(emitted(&fx), vec![confirm(b(1, x()), 1, 1, 1)]);
        let fx = send(&mut bp, &[1], &confirm(b(1, x()), 1, 1, 1));
        assert_eq!(emitted(&fx), vec![externalize(b(1, x()), 1)]);
        assert!(fx.contains(&BallotEffect::Externalized(x())));
    }

    /// A peer alone is not v-blocking: its higher counter does not move us; both peers do.
    #[test]
    fn only_both_peers_ahead_bump_us() {
        let mut bp = started3();
        send(&mut bp, &[1], &prepare(b(4, x()), None, 0, 0));
        assert_eq!(bp.current().map(|c| c.counter), Some(1));
        let fx = send(&mut bp, &[2], &prepare(b(6, x()), None, 0, 0));
        assert_eq!(emitted(&fx).last().map(|s| s.working_ballot().counter), Some(4));
    }
}

/// A peer that keeps raising its counter with a new value each time leaves many values behind;
/// the slot numbers its values afresh now and then (`renumber`), which must change nothing: a
/// node that saw every such statement acts like one that saw only the last.
#[test]
fn forgetting_replaced_values_changes_nothing() {
    let junk = |i: u32| format!("junk{i}").into_bytes();
    let mut spammed = started();
    for i in 1..=300 {
        let fx = spammed.receive(&Driver, &v(4), prepare(b(i, junk(i)), None, 0, 0), Some(qset().into()));
        assert!(emitted(&fx).is_empty(), "one node alone moves nothing");
    }
    let mut fresh = started();
    fresh.receive(
        &Driver,
        &v(4),
        prepare(b(300, junk(300)), None, 0, 0),
        Some(qset().into()),
    );
    let flow = [
        prepare(b(1, x()), None, 0, 0),
        prepare(b(1, x()), Some(b(1, x())), 0, 0),
        prepare(b(1, x()), Some(b(1, x())), 1, 1),
        confirm(b(1, x()), 1, 1, 1),
    ];
    for st in &flow {
        for i in 1..4 {
            let a = spammed.receive(&Driver, &v(i), st.clone(), Some(qset().into()));
            let b = fresh.receive(&Driver, &v(i), st.clone(), Some(qset().into()));
            assert_eq!(a, b, "{st:?} from v{i}");
        }
    }
    assert_eq!(spammed.phase(), Phase::Externalize);
    assert_eq!(spammed.commit(), Some(&b(1, x())));
}
