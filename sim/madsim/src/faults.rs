//! faultline's fault verbs through madsim's own controls.
//!
//! | faultline fault | on madsim |
//! | --- | --- |
//! | `Crash` / `Restart` | `Handle::kill` / `Handle::restart` (a fresh node over synced storage) |
//! | `Pause` / `Resume` | `Handle::pause` / `Handle::resume` |
//! | `Partition` / `Unpartition` | `NetSim::clog_link` / `unclog_link` between the groups, both ways |
//! | `CutOneWay` / `Reconnect` | `NetSim::clog_link` / `unclog_link`, one way |
//! | `Isolate` / `Rejoin` | `NetSim::clog_node` / `unclog_node` |
//! | `Repair` | every clog above undone |
//! | `Link` on every link (`from` and `to` unset): loss, latency | `NetSim::update_config`: `packet_loss_rate`, `send_latency` (the whole network) |
//! | `LinkRestore` on every link | the change beneath the one undone, or the base network |
//! | `Heal` | repair, base network, every node resumed and every crashed node restarted |
//!
//! What madsim cannot express, so the shared scenarios leave it out when they run there:
//! duplication, reordering beyond the latency range, corruption and truncation of datagrams
//! (madsim's network never alters a packet), loss or latency on one link only (its network
//! configuration is global), clock offset and drift (every node reads madsim's one clock),
//! and injected stream resets (a connection only breaks when a node is killed).
//! [`Net::apply`] refuses those with an error naming the fault.

use crate::runtime::Sim;
use faultline::{Addr, Fault, LinkFaults, Node};
use madsim::net::NetSim;
use madsim::time::Duration;
use std::collections::BTreeMap;

/// The clogs faultline's verbs have put on, counted, so overlapping episodes undo only
/// their own share (as faultline's network counts its cuts).
pub struct Net {
    links: BTreeMap<(u32, u32), u32>,
    nodes: BTreeMap<u32, u32>,
    base: LinkFaults,
    /// Whole-network link changes in force, oldest first: the latest applies, and undoing
    /// one falls back to the one beneath (as faultline's `LinkRestore`).
    changes: Vec<LinkFaults>,
    crashed: Vec<u32>,
}

/// The latency range madsim takes for faultline's inclusive `min..=max`.
pub fn latency_range(link: &LinkFaults) -> std::ops::Range<Duration> {
    Duration::from_nanos(link.latency_min_ns)..Duration::from_nanos(link.latency_max_ns + 1)
}

impl Net {
    /// No clogs; `base` is the network `Heal` goes back to.
    pub fn new(base: LinkFaults) -> Net {
        Net {
            links: BTreeMap::new(),
            nodes: BTreeMap::new(),
            base,
            changes: Vec::new(),
            crashed: Vec::new(),
        }
    }

    fn clog(&mut self, from: u32, to: u32, sim_ids: &impl Fn(u32) -> madsim::task::NodeId) {
        let n = self.links.entry((from, to)).or_insert(0);
        *n += 1;
        if *n == 1 {
            NetSim::current().clog_link(sim_ids(from), sim_ids(to));
        }
    }

    fn unclog(&mut self, from: u32, to: u32, sim_ids: &impl Fn(u32) -> madsim::task::NodeId) {
        if let Some(n) = self.links.get_mut(&(from, to)) {
            *n -= 1;
            if *n == 0 {
                self.links.remove(&(from, to));
                NetSim::current().unclog_link(sim_ids(from), sim_ids(to));
            }
        }
    }

    fn between(groups: &[Vec<u32>]) -> Vec<(u32, u32)> {
        let mut pairs = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in a {
                        for &y in b {
                            pairs.push((x, y));
                        }
                    }
                }
            }
        }
        pairs
    }

    /// Apply `fault` on `sim`; an error if madsim cannot express it.
    pub fn apply<N: Node + Send + 'static>(
        &mut self,
        sim: &Sim<N>,
        fault: &Fault,
    ) -> Result<(), String>
    where
        N::Event: Send,
    {
        let ids = |i: u32| sim.madsim_id(Addr(i));
        match fault {
            Fault::Crash { node } => {
                sim.crash(Addr(*node));
                self.crashed.push(*node);
            }
            Fault::Restart { node } => {
                sim.restart(Addr(*node));
                self.crashed.retain(|n| n != node);
            }
            Fault::Pause { node } => sim.pause(Addr(*node), true),
            Fault::Resume { node } => sim.pause(Addr(*node), false),
            Fault::Partition { groups } => {
                for (a, b) in Net::between(groups) {
                    self.clog(a, b, &ids);
                }
            }
            Fault::Unpartition { groups } => {
                for (a, b) in Net::between(groups) {
                    self.unclog(a, b, &ids);
                }
            }
            Fault::CutOneWay { from, to } => self.clog(*from, *to, &ids),
            Fault::Reconnect { from, to } => self.unclog(*from, *to, &ids),
            Fault::Isolate { node } => {
                let n = self.nodes.entry(*node).or_insert(0);
                *n += 1;
                if *n == 1 {
                    NetSim::current().clog_node(ids(*node));
                }
            }
            Fault::Rejoin { node } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    *n -= 1;
                    if *n == 0 {
                        self.nodes.remove(node);
                        NetSim::current().unclog_node(ids(*node));
                    }
                }
            }
            Fault::Repair => self.repair(&ids),
            Fault::Link {
                from: None,
                to: None,
                faults,
            } => {
                self.set_links(faults)?;
                self.changes.push(faults.clone());
            }
            Fault::LinkRestore {
                from: None,
                to: None,
                faults,
            } => {
                let undone = self
                    .changes
                    .iter()
                    .rposition(|c| faults.as_ref().is_none_or(|f| f == c));
                if let Some(i) = undone {
                    self.changes.remove(i);
                }
                let now = self.changes.last().unwrap_or(&self.base).clone();
                self.set_links(&now)?;
            }
            Fault::Heal => {
                self.repair(&ids);
                self.changes.clear();
                let base = self.base.clone();
                self.set_links(&base)?;
                for i in 0..sim.node_count() as u32 {
                    sim.pause(Addr(i), false);
                }
                for node in std::mem::take(&mut self.crashed) {
                    sim.restart(Addr(node));
                }
            }
            other => return Err(format!("madsim cannot express {other:?}")),
        }
        Ok(())
    }

    fn repair(&mut self, ids: &impl Fn(u32) -> madsim::task::NodeId) {
        let net = NetSim::current();
        for (from, to) in std::mem::take(&mut self.links).into_keys() {
            net.unclog_link(ids(from), ids(to));
        }
        for node in std::mem::take(&mut self.nodes).into_keys() {
            net.unclog_node(ids(node));
        }
    }

    fn set_links(&mut self, link: &LinkFaults) -> Result<(), String> {
        if link.duplicate > 0.0 || link.reorder > 0.0 || link.corrupt > 0.0 || link.truncate > 0.0 {
            return Err(format!(
                "madsim cannot duplicate, reorder, corrupt or truncate datagrams: {link:?}"
            ));
        }
        let range = latency_range(link);
        let loss = link.loss;
        NetSim::current().update_config(|c| {
            c.packet_loss_rate = loss;
            c.send_latency = range;
        });
        Ok(())
    }
}
