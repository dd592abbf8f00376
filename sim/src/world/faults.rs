//! Applying a fault to the world.

use super::{Ev, World};
use crate::faults::Fault;
use crate::node::{Addr, Node};
use crate::trace::TraceKind;

impl<N: Node + 'static> World<N> {
    /// Apply `fault` now, and fold it into the trace hash. Faults naming nodes that do not
    /// exist are ignored (schedules are validated when loaded). This is the only way in:
    /// the methods behind it are private, so no fault can skip the trace.
    pub fn apply(&mut self, fault: Fault) {
        if fault
            .nodes()
            .iter()
            .any(|&n| n as usize >= self.slots.len())
        {
            return;
        }
        let bytes = serde_json::to_vec(&fault).unwrap_or_default();
        self.trace
            .record(self.now(), Addr(u32::MAX), TraceKind::Fault, 0, 0, &bytes);
        match fault {
            Fault::Link { from, to, faults } => self.net.change_links(from, to, &faults),
            Fault::LinkRestore { from, to, faults } => {
                self.net.restore_links(from, to, faults.as_ref())
            }
            Fault::Partition { groups } => self.net.partition(groups),
            Fault::Unpartition { groups } => self.net.unpartition(&groups),
            Fault::CutOneWay { from, to } => self.net.cut_one_way(from, to),
            Fault::Reconnect { from, to } => self.net.reconnect(from, to),
            Fault::Isolate { node } => self.net.isolate(node),
            Fault::Rejoin { node } => self.net.rejoin(node),
            Fault::Repair => self.net.repair(),
            Fault::Crash { node } => self.crash(node),
            Fault::Restart { node } => self.restart(node),
            Fault::CrashInSync { node } => {
                if self.slots[node as usize].node.is_some() {
                    self.slots[node as usize]
                        .io
                        .storage_mut()
                        .arm_crash_in_sync();
                }
            }
            Fault::StorageFaults { node, faults } => self.set_storage_faults(node, faults),
            Fault::Pause { node } => self.slots[node as usize].paused = true,
            Fault::Resume { node } => self.resume(node),
            Fault::ClockOffset { node, offset_ns } => {
                let now = self.now();
                self.slots[node as usize].clock.offset(now, offset_ns);
            }
            Fault::ClockDrift { node, ppm } => {
                let now = self.now();
                self.slots[node as usize].clock.start_drift(now, ppm);
            }
            Fault::DriftStop { node, ppm } => {
                let now = self.now();
                self.slots[node as usize].clock.stop_drift(now, ppm);
            }
            Fault::ResetStreams { node } => self.reset_streams(node),
            Fault::Heal => self.heal(),
        }
    }

    /// Stop a node: drop its state machine and unsynced storage, reset its streams, and
    /// forget its timers and waiting events. A node not started yet never starts.
    fn crash(&mut self, node: u32) {
        let slot = &mut self.slots[node as usize];
        slot.node = None;
        slot.inc += 1;
        slot.paused = false;
        slot.backlog.clear();
        if let Some((faults, rng)) = &mut slot.storage_faults {
            let out = slot.io.storage_mut().crash_with(faults, rng);
            if out.is_notable() {
                // Hashed, so a replay must damage the same records the same way.
                let keys = format!(
                    "{}|{}",
                    out.torn.as_deref().unwrap_or(""),
                    out.rotted.as_deref().unwrap_or("")
                );
                let (kept, unsynced) = (out.kept as u64, out.unsynced as u64);
                self.trace.record(
                    self.now(),
                    Addr(node),
                    TraceKind::Storage,
                    kept,
                    unsynced,
                    keys.as_bytes(),
                );
            }
        }
        let slot = &mut self.slots[node as usize];
        slot.io.crash();
        self.reset_streams(node);
    }

    /// Start a crashed node again over its synced storage.
    fn restart(&mut self, node: u32) {
        self.slots[node as usize]
            .io
            .storage_mut()
            .disarm_crash_in_sync();
        if self.slots[node as usize].node.is_none() {
            self.push(self.now, Ev::Start { node });
        }
    }

    /// Deliver what waited while the node was paused, in the order it arrived.
    fn resume(&mut self, node: u32) {
        let slot = &mut self.slots[node as usize];
        if !slot.paused {
            return;
        }
        slot.paused = false;
        let waiting = std::mem::take(&mut slot.backlog);
        for ev in waiting {
            self.push(self.now, ev);
        }
    }

    /// The heal phase starts: no partitions, base links everywhere, every node running,
    /// no clock drift (offsets stay: they are state, not an ongoing fault).
    fn heal(&mut self) {
        self.net.repair();
        self.net.restore_base();
        let now = self.now();
        for node in 0..self.slots.len() as u32 {
            self.resume(node);
            self.slots[node as usize].clock.stop_all_drift(now);
            let storage = self.slots[node as usize].io.storage_mut();
            storage.disarm_crash_in_sync();
            if self.slots[node as usize].node.is_none() && self.slots[node as usize].inc > 0 {
                self.restart(node);
            }
        }
    }
}
