//! The connection gate: who may hold a connection to this node.
//!
//! - Reserved peers (the validators of the quorum set, from [`crate::NetworkConfig::reserved_peers`])
//!   are always admitted and do not count against any limit: however many other peers fill the
//!   slots, the quorum can reach us.
//! - Other peers share `max_peers` slots, and at most `max_peers_per_ip` of them may come from one
//!   IP address, so fresh peer ids from one host cannot take every slot. A peer already connected
//!   may open its second connection (simultaneous dials) whatever the counts.
//! - A banned peer's IP addresses are banned with it: new connections from them are refused unless
//!   the peer is reserved, so a banned attacker cannot come back under a fresh peer id from the
//!   same address.
//!
//! Loopback addresses are exempt from the IP rules unless the configuration says otherwise: every
//! node of a local test network shares 127.0.0.1, and banning or limiting it would cut them all.
//!
//! Refusals happen once the peer id is known (after the handshake), since reserved peers are known
//! by id. The pending-connection limits of libp2p's `connection_limits` bound the handshakes.

use std::{
    collections::{HashMap, HashSet},
    convert::Infallible,
    net::IpAddr,
    task::{Context, Poll},
    time::Instant,
};

use libp2p::{
    core::{transport::PortUse, ConnectedPoint, Endpoint},
    multiaddr::Protocol,
    swarm::{
        behaviour::{ConnectionClosed, ConnectionEstablished},
        dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

/// IP bans remembered at once; past this the ban ending soonest is dropped. Each peer ban adds
/// at most the addresses of that peer's connections (two), and peer bans need misbehaviour.
const MAX_IP_BANS: usize = 4096;

/// Why the gate refused a connection (carried in libp2p's `ConnectionDenied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// Every slot for non-reserved peers is taken.
    #[error("all {max} peer slots are taken")]
    Full {
        /// The limit.
        max: usize,
    },
    /// The address already has its share of peers.
    #[error("{ip} already has {max} peers connected")]
    TooManyFromIp {
        /// The remote address.
        ip: IpAddr,
        /// The limit.
        max: usize,
    },
    /// The address belongs to a banned peer.
    #[error("{ip} is banned")]
    IpBanned {
        /// The remote address.
        ip: IpAddr,
    },
}

/// The gate's configuration (from [`crate::NetworkConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct GateConfig {
    pub(crate) reserved: HashSet<PeerId>,
    pub(crate) max_peers: usize,
    pub(crate) max_peers_per_ip: usize,
    /// Apply IP bans to loopback addresses too.
    pub(crate) ban_loopback: bool,
    /// Apply the per-IP limit to loopback addresses too.
    pub(crate) limit_loopback: bool,
}

#[derive(Debug, Clone, Copy)]
struct Connection {
    peer: PeerId,
    ip: Option<IpAddr>,
}

/// The gate behaviour (see the module documentation).
pub(crate) struct Gate {
    config: GateConfig,
    connections: HashMap<ConnectionId, Connection>,
    banned_ips: HashMap<IpAddr, Instant>,
}

/// The IP address a multiaddr starts with (none for DNS names and other transports).
pub(crate) fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    match address.iter().next()? {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

impl Gate {
    pub(crate) fn new(config: GateConfig) -> Self {
        Gate {
            config,
            connections: HashMap::new(),
            banned_ips: HashMap::new(),
        }
    }

    pub(crate) fn is_reserved(&self, peer: &PeerId) -> bool {
        self.config.reserved.contains(peer)
    }

    /// Non-reserved peers connected, and those among them connected from `ip`.
    fn counts(&self, ip: Option<IpAddr>) -> (usize, usize) {
        let mut peers = HashSet::new();
        let mut from_ip = HashSet::new();
        for c in self.connections.values() {
            if self.is_reserved(&c.peer) {
                continue;
            }
            peers.insert(c.peer);
            if ip.is_some() && c.ip == ip {
                from_ip.insert(c.peer);
            }
        }
        (peers.len(), from_ip.len())
    }

    fn check(&self, peer: PeerId, remote: &Multiaddr, inbound: bool) -> Result<(), Refused> {
        if self.is_reserved(&peer) {
            return Ok(());
        }
        let ip = ip_of(remote);
        if let Some(ip) = ip {
            if inbound && self.banned_ips.contains_key(&ip) {
                return Err(Refused::IpBanned { ip });
            }
        }
        // A second connection of a peer already admitted (e.g. both sides dialled at once) takes
        // no new slot.
        if self.connections.values().any(|c| c.peer == peer) {
            return Ok(());
        }
        let (peers, from_ip) = self.counts(ip);
        if peers >= self.config.max_peers {
            return Err(Refused::Full {
                max: self.config.max_peers,
            });
        }
        if let Some(ip) = ip {
            let exempt = ip.is_loopback() && !self.config.limit_loopback;
            if !exempt && from_ip >= self.config.max_peers_per_ip {
                return Err(Refused::TooManyFromIp {
                    ip,
                    max: self.config.max_peers_per_ip,
                });
            }
        }
        Ok(())
    }

    /// Whether another non-reserved peer could connect now (for discovery: no point dialling
    /// peers the gate would refuse).
    pub(crate) fn has_free_slot(&self) -> bool {
        self.counts(None).0 < self.config.max_peers
    }

    /// Bans the IP addresses `peer` is connected from until `until`; returns those banned
    /// (loopback addresses are skipped unless configured otherwise, and a reserved peer's
    /// addresses are never banned: other validators may share its host).
    pub(crate) fn ban_ips_of(&mut self, peer: PeerId, until: Instant) -> Vec<IpAddr> {
        if self.is_reserved(&peer) {
            return Vec::new();
        }
        let ips: HashSet<IpAddr> = self
            .connections
            .values()
            .filter(|c| c.peer == peer)
            .filter_map(|c| c.ip)
            .filter(|ip| self.config.ban_loopback || !ip.is_loopback())
            .collect();
        for ip in &ips {
            let end = self.banned_ips.entry(*ip).or_insert(until);
            *end = (*end).max(until);
        }
        while self.banned_ips.len() > MAX_IP_BANS {
            let soonest = self.banned_ips.iter().min_by_key(|(_, end)| **end).map(|(ip, _)| *ip);
            match soonest {
                Some(ip) => self.banned_ips.remove(&ip),
                None => break,
            };
        }
        ips.into_iter().collect()
    }

    /// Lifts the IP bans that have ended by `now`; returns them.
    pub(crate) fn expire_ip_bans(&mut self, now: Instant) -> Vec<IpAddr> {
        let ended: Vec<IpAddr> = self
            .banned_ips
            .iter()
            .filter(|(_, end)| **end <= now)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in &ended {
            self.banned_ips.remove(ip);
        }
        ended
    }

    #[cfg(test)]
    fn admit(&mut self, id: ConnectionId, peer: PeerId, remote: &Multiaddr) -> Result<(), Refused> {
        self.check(peer, remote, true)?;
        self.connections.insert(
            id,
            Connection {
                peer,
                ip: ip_of(remote),
            },
        );
        Ok(())
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(peer, remote, true).map_err(ConnectionDenied::new)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        remote: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        // We chose to dial: no IP ban applies (a ban refuses what others start), but the slots
        // are shared with inbound peers.
        self.check(peer, remote, false).map_err(ConnectionDenied::new)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        // Connections are counted once every behaviour has admitted them.
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) => {
                let remote = match endpoint {
                    ConnectedPoint::Dialer { address, .. } => address,
                    ConnectedPoint::Listener { send_back_addr, .. } => send_back_addr,
                };
                self.connections.insert(
                    connection_id,
                    Connection {
                        peer: peer_id,
                        ip: ip_of(remote),
                    },
                );
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) => {
                self.connections.remove(&connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn gate(reserved: &[PeerId], max_peers: usize, per_ip: usize) -> Gate {
        Gate::new(GateConfig {
            reserved: reserved.iter().copied().collect(),
            max_peers,
            max_peers_per_ip: per_ip,
            ban_loopback: false,
            limit_loopback: false,
        })
    }

    fn addr(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn reserved_peers_get_in_when_every_slot_is_taken() {
        let validator = PeerId::random();
        let mut g = gate(&[validator], 3, 10);
        for i in 0..3 {
            let remote = addr(&format!("/ip4/10.0.0.{i}/tcp/1"));
            assert_eq!(
                g.admit(ConnectionId::new_unchecked(i), PeerId::random(), &remote),
                Ok(())
            );
        }
        assert!(!g.has_free_slot());
        let remote = addr("/ip4/10.0.1.1/tcp/1");
        assert_eq!(
            g.admit(ConnectionId::new_unchecked(10), PeerId::random(), &remote),
            Err(Refused::Full { max: 3 })
        );
        assert_eq!(g.admit(ConnectionId::new_unchecked(11), validator, &remote), Ok(()));
    }

    #[test]
    fn one_address_gets_a_bounded_share_of_the_slots() {
        let mut g = gate(&[], 50, 2);
        let host = addr("/ip4/203.0.113.9/tcp/4000");
        let (a, b) = (PeerId::random(), PeerId::random());
        assert_eq!(g.admit(ConnectionId::new_unchecked(1), a, &host), Ok(()));
        assert_eq!(g.admit(ConnectionId::new_unchecked(2), b, &host), Ok(()));
        let ip = ip_of(&host).unwrap();
        assert_eq!(
            g.admit(ConnectionId::new_unchecked(3), PeerId::random(), &host),
            Err(Refused::TooManyFromIp { ip, max: 2 })
        );
        // A connected peer's second connection is fine; another host is fine.
        assert_eq!(g.admit(ConnectionId::new_unchecked(4), a, &host), Ok(()));
        let other = addr("/ip6/2001:db8::1/tcp/4000");
        assert_eq!(
            g.admit(ConnectionId::new_unchecked(5), PeerId::random(), &other),
            Ok(())
        );
        // Loopback is exempt unless configured.
        let lo = addr("/ip4/127.0.0.1/tcp/1");
        for i in 10..15 {
            assert_eq!(g.admit(ConnectionId::new_unchecked(i), PeerId::random(), &lo), Ok(()));
        }
        g.config.limit_loopback = true;
        assert!(matches!(
            g.admit(ConnectionId::new_unchecked(20), PeerId::random(), &lo),
            Err(Refused::TooManyFromIp { .. })
        ));
    }

    #[test]
    fn a_ban_covers_the_peers_address_until_it_ends() {
        let validator = PeerId::random();
        let mut g = gate(&[validator], 50, 10);
        let host = addr("/ip4/198.51.100.7/tcp/1");
        let lo = addr("/ip4/127.0.0.1/tcp/1");
        let (attacker, local) = (PeerId::random(), PeerId::random());
        g.admit(ConnectionId::new_unchecked(1), attacker, &host).unwrap();
        g.admit(ConnectionId::new_unchecked(2), local, &lo).unwrap();
        g.admit(ConnectionId::new_unchecked(3), validator, &host).unwrap();
        let now = Instant::now();
        let until = now + Duration::from_secs(60);
        assert_eq!(g.ban_ips_of(attacker, until), vec![ip_of(&host).unwrap()]);
        assert!(
            g.ban_ips_of(local, until).is_empty(),
            "loopback is not banned by default"
        );
        assert!(
            g.ban_ips_of(validator, until).is_empty(),
            "reserved peers' hosts are not banned"
        );
        // A fresh id from the banned host is refused inbound, the reserved peer is not, and we
        // may still dial out to it.
        let fresh = PeerId::random();
        assert_eq!(
            g.check(fresh, &host, true),
            Err(Refused::IpBanned {
                ip: ip_of(&host).unwrap()
            })
        );
        assert_eq!(g.check(validator, &host, true), Ok(()));
        assert_eq!(g.check(fresh, &host, false), Ok(()));
        assert!(g.expire_ip_bans(now).is_empty());
        assert_eq!(g.expire_ip_bans(until), vec![ip_of(&host).unwrap()]);
        assert_eq!(g.check(fresh, &host, true), Ok(()));
        // With loopback bans on, loopback is banned like any address.
        g.config.ban_loopback = true;
        assert_eq!(g.ban_ips_of(local, until), vec![ip_of(&lo).unwrap()]);
    }

    #[test]
    fn ip_of_reads_ip4_and_ip6_only() {
        assert_eq!(ip_of(&addr("/ip4/1.2.3.4/tcp/5")), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(ip_of(&addr("/ip6/::1/tcp/5")), Some("::1".parse().unwrap()));
        assert_eq!(ip_of(&addr("/dns4/example.com/tcp/5")), None);
    }
}
