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
        .flat_map(|i| bp.receive(&Driver, &v(*i), st.clone(), Some(qset())))
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
        .receive(&Driver, &v(4), prepare(b(9, y()), None, 0, 0), Some(qset()))
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
    bp.receive(&Driver, &v(1), prepare(b(3, x()), None, 0, 0), Some(qset()));
    assert_eq!(bp.current(), Some(&b(1, x())), "one node ahead is not v-blocking");
    let fx = bp.receive(&Driver, &v(2), prepare(b(5, x()), None, 0, 0), Some(qset()));
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
    assert!(bp.receive(&Driver, &v(1), bad_value, Some(qset())).is_empty());
    let insane = prepare(b(0, x()), None, 0, 0);
    assert!(bp.receive(&Driver, &v(1), insane, Some(qset())).is_empty());
    bp.receive(&Driver, &v(1), prepare(b(2, x()), None, 0, 0), Some(qset()));
    bp.receive(&Driver, &v(1), prepare(b(1, x()), None, 0, 0), Some(qset()));
    // v1 is still at 2: with v2 at 2 as well, {v1, v2} bump us to 2.
    bp.receive(&Driver, &v(2), prepare(b(2, x()), None, 0, 0), Some(qset()));
    assert_eq!(bp.current(), Some(&b(2, x())));
}
