//! The nodes of a simulated Raft world: the system's servers, and clients that run a random
//! workload over the system's [`KvClient`].
//!
//! A [`WorkloadClient`] thinks for a random time, submits a random Get, Put or Append, waits
//! for its answer (the client retries and redirects on its own), and starts over until it
//! has done its share. Written values are unique (`"<client>.<seq>;"`), so the
//! linearizability checker can tell every write apart.

use faultline::{Addr, Ctx, Node, TimerId};
use raft::{ClientConfig, ClientTimer, Event, KvClient, KvServer, Op};
use rand::Rng;
use std::time::Duration;

faultline::timer_tags! {
    /// A workload client's timers: its [`KvClient`]'s retry timer (under the client's own
    /// number, so the client's timers decode as `Client`) and the start of the next
    /// operation.
    pub enum WorkloadTimer {
        Client = 10,
        NextOp = 11,
    }
}

/// A random workload: `ops` operations over `keys` keys, with a pause in
/// `think_min..=think_max` before each.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub ops: u64,
    pub keys: u32,
    pub think_min: Duration,
    pub think_max: Duration,
    /// Share of gets and of puts; the rest are appends.
    pub get_share: f64,
    pub put_share: f64,
}

impl Default for Workload {
    fn default() -> Workload {
        Workload {
            ops: 100,
            keys: 5,
            think_min: Duration::from_millis(0),
            think_max: Duration::from_millis(50),
            get_share: 0.4,
            put_share: 0.2,
        }
    }
}

/// A key-value client running a [`Workload`].
pub struct WorkloadClient {
    client: KvClient,
    workload: Workload,
}

impl WorkloadClient {
    /// Client `id` (unique in the cluster's life) of the servers at `servers`.
    pub fn new(id: u64, servers: Vec<Addr>, workload: Workload) -> WorkloadClient {
        WorkloadClient {
            client: KvClient::new(id, ClientConfig::default(), servers),
            workload,
        }
    }

    /// The client the workload drives.
    pub fn client(&self) -> &KvClient {
        &self.client
    }

    /// Whether every operation of the workload was issued and answered.
    pub fn done(&self) -> bool {
        self.client.is_idle() && self.client.completed() >= self.workload.ops
    }

    fn schedule_next(&mut self, ctx: &mut Ctx<'_, Event>) {
        let w = &self.workload;
        let (lo, hi) = (w.think_min, w.think_max.max(w.think_min));
        let wait = Duration::from_nanos(
            ctx.rng()
                .gen_range(lo.as_nanos() as u64..=hi.as_nanos() as u64),
        );
        ctx.set_timer(wait, WorkloadTimer::NextOp);
    }

    /// A random operation; its written value names the client and the operation.
    fn random_op(&mut self, ctx: &mut Ctx<'_, Event>) -> Op {
        let w = &self.workload;
        let key = format!("k{}", ctx.rng().gen_range(0..w.keys.max(1)));
        let tag = format!("{}.{};", self.client.id(), self.client.seq() + 1);
        let draw: f64 = ctx.rng().gen();
        if draw < w.get_share {
            Op::Get { key }
        } else if draw < w.get_share + w.put_share {
            Op::Put { key, value: tag }
        } else {
            Op::Append { key, value: tag }
        }
    }
}

impl Node for WorkloadClient {
    type Event = Event;
    type Timer = WorkloadTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Event>) {
        self.client.on_start(ctx);
        self.schedule_next(ctx);
    }

    fn on_datagram(&mut self, ctx: &mut Ctx<'_, Event>, from: Addr, data: &[u8]) {
        let before = self.client.completed();
        self.client.on_datagram(ctx, from, data);
        let completed = self.client.completed();
        if completed > before && completed < self.workload.ops {
            self.schedule_next(ctx);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Event>, timer: TimerId, tag: WorkloadTimer) {
        match tag {
            WorkloadTimer::Client => self.client.on_timer(ctx, timer, ClientTimer::Retry),
            WorkloadTimer::NextOp if self.client.is_idle() => {
                let op = self.random_op(ctx);
                self.client.submit(ctx, op);
            }
            WorkloadTimer::NextOp => {}
        }
    }
}

faultline::node_kinds! {
    /// A node of a simulated Raft world: a server, or a client running a workload.
    #[allow(clippy::large_enum_variant)]
    pub enum RaftNode: Event {
        Server(KvServer),
        Client(WorkloadClient),
    }
}

impl RaftNode {
    /// The server, if this node is one.
    pub fn server(&self) -> Option<&KvServer> {
        self.kind()
    }

    /// The server, mutably, if this node is one.
    pub fn server_mut(&mut self) -> Option<&mut KvServer> {
        self.kind_mut()
    }

    /// The workload client, if this node is one.
    pub fn client(&self) -> Option<&WorkloadClient> {
        self.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline::TimerTag;

    #[test]
    fn the_clients_timer_decodes_as_the_client_tag() {
        assert_eq!(
            WorkloadTimer::from_raw(ClientTimer::Retry.to_raw()),
            Some(WorkloadTimer::Client)
        );
    }
}
