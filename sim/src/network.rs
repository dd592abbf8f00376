//! The network between simulated nodes: per directed link behaviour and partitions.
//!
//! Cuts (partitions, one-way cuts, isolations) and link changes are episodes: each is kept
//! in force until its own undo removes it, and a link is cut while any cut in force cuts
//! it. Two equal episodes that overlap are counted twice, so the first undo leaves the
//! second in force.
//!
//! Link draws are counter-based: the draw of fault kind `k` for the `i`-th datagram on link
//! `from -> to` is a keyed hash of (k, link, i), keyed per kind from the master seed. So a
//! kind turned on or off changes no other kind's draws, a link's draws do not depend on
//! traffic elsewhere, and a link costs a few bytes, not a generator state each (a world of
//! 1,000 nodes has a million links).
//!
//! Link state is sparse: a link's counters exist from its first use, and cuts and link
//! changes are rules looked up per send (none are in force most of the time), so adding a
//! node costs nothing per other node and a world of 10,000 nodes pays only for the senders
//! its traffic uses.

use crate::faults::LinkFaults;
use crate::rng::derive_rng;
use rand::RngCore;
use serde::Serialize;

/// Counters of what the network did, for tests and reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    pub datagrams_sent: u64,
    pub datagrams_delivered: u64,
    pub datagrams_lost: u64,
    pub datagrams_duplicated: u64,
    pub datagrams_reordered: u64,
    pub datagrams_corrupted: u64,
    pub datagrams_truncated: u64,
    /// Dropped because a partition cut the link.
    pub datagrams_cut: u64,
    /// Dropped because the receiver was down (or does not exist).
    pub datagrams_to_down_node: u64,
    /// Dropped by the middlebox hook.
    pub datagrams_middlebox_dropped: u64,
    pub stream_bytes_written: u64,
    pub stream_bytes_delivered: u64,
    /// Times a stream's delivery waited because a partition cut its link.
    pub stream_stalls: u64,
    pub streams_opened: u64,
    pub streams_refused: u64,
    pub streams_reset: u64,
}

/// What happens to one datagram on a link.
pub struct Fate {
    /// Delivery delays of the copies that arrive (both `None`: lost).
    pub delays: [Option<u64>; 2],
    pub corrupt: bool,
    pub truncate: bool,
    /// The datagram's index on its link, for the corruption and truncation draws.
    pub index: u32,
}

/// The kinds of draw, each with its own key.
#[derive(Clone, Copy)]
enum Draw {
    Latency = 0,
    Loss,
    Duplicate,
    Reorder,
    ReorderDelay,
    Corrupt,
    Truncate,
    StreamLatency,
}
const DRAW_KINDS: usize = 8;
const DRAW_NAMES: [&str; DRAW_KINDS] = [
    "latency",
    "loss",
    "duplicate",
    "reorder",
    "reorder_delay",
    "corrupt",
    "truncate",
    "stream_latency",
];

/// A strong 64-bit mixer (the SplitMix64 finaliser).
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Which counter of a link: datagrams, or stream segments and control messages.
#[derive(Clone, Copy)]
enum Counter {
    Datagrams = 0,
    Segments = 1,
}

/// Each directed link's two use counters, in one row per sender that is allocated on the
/// sender's first use and widened on demand: nothing for links never used, and nothing
/// copied when a node joins.
///
/// A row starts with one byte a link and becomes four bytes a link the first time one of
/// its counters would pass 255. In a large world most links carry a few datagrams, so the
/// counters of 1,000 nodes (a million links) take 1 MiB, not 4, and stay in cache: every
/// send reads one at random, and this lookup was the simulator's largest cost at that
/// size. A small world's busy links widen their rows early and pay one branch more.
#[derive(Default)]
struct LinkCounters {
    /// Per counter kind, per sender.
    rows: [Vec<CounterRow>; 2],
}

/// One sender's counters, per receiver.
enum CounterRow {
    /// Every counter below 255.
    Narrow(Vec<u8>),
    Wide(Vec<u32>),
}

impl CounterRow {
    /// The counter for `to` before this use; it counts one more. The row is first made
    /// at least `width` long.
    fn next(&mut self, to: usize, width: usize) -> u32 {
        match self {
            CounterRow::Narrow(row) => {
                if row.len() <= to {
                    row.resize(width.max(to + 1), 0);
                }
                let index = row[to];
                if index < u8::MAX {
                    row[to] = index + 1;
                    return index as u32;
                }
                // The counter would pass 255: widen the row for good.
                let wide = row.iter().map(|&c| c as u32).collect();
                *self = CounterRow::Wide(wide);
                self.next(to, width)
            }
            CounterRow::Wide(row) => {
                if row.len() <= to {
                    row.resize(width.max(to + 1), 0);
                }
                let index = row[to];
                row[to] = index.wrapping_add(1);
                index
            }
        }
    }
}

impl LinkCounters {
    /// The counter's value for `from -> to` before this use; it counts one more. `n` is
    /// the node count, the width a row is widened to.
    fn next(&mut self, kind: Counter, from: usize, to: usize, n: usize) -> u32 {
        let rows = &mut self.rows[kind as usize];
        if rows.len() <= from {
            rows.resize_with(from + 1, || CounterRow::Narrow(Vec::new()));
        }
        rows[from].next(to, n)
    }
}

/// How `from -> to` behaves under `changes` (oldest first) over `base`.
fn faults_of<'a>(
    changes: &'a [LinkChange],
    base: &'a LinkFaults,
    from: usize,
    to: usize,
) -> &'a LinkFaults {
    let covers = |x: Option<u32>, node: usize| x.is_none_or(|x| x as usize == node);
    changes
        .iter()
        .rev()
        .find(|c| covers(c.from, from) && covers(c.to, to))
        .map_or(base, |c| &c.faults)
}

/// Links, partitions and counters for `n` nodes.
pub struct Network {
    n: usize,
    keys: [u64; DRAW_KINDS],
    base: LinkFaults,
    counters: LinkCounters,
    /// The cuts in force, in the order they began (a multiset: equal cuts may repeat).
    rules: Vec<CutRule>,
    /// The link changes in force, oldest first; the latest covering a link decides it.
    link_changes: Vec<LinkChange>,
    pub stats: NetStats,
}

/// A cut in force. Groups are kept normalised, so an undo matches however it lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CutRule {
    /// The groups, and each node's group (`usize::MAX`: in none), for the lookup.
    Groups(Vec<Vec<u32>>, GroupOf),
    OneWay(u32, u32),
    Isolate(u32),
}

/// Each node's group in a partition: derived from the groups, so equal whenever they are.
#[derive(Clone, Debug, PartialEq, Eq)]
struct GroupOf(Vec<usize>);

impl GroupOf {
    fn new(groups: &[Vec<u32>]) -> GroupOf {
        let len = groups.iter().flatten().map(|&m| m as usize + 1).max();
        let mut group_of = vec![usize::MAX; len.unwrap_or(0)];
        for (g, members) in groups.iter().enumerate() {
            for &m in members {
                group_of[m as usize] = g;
            }
        }
        GroupOf(group_of)
    }

    fn get(&self, node: usize) -> usize {
        self.0.get(node).copied().unwrap_or(usize::MAX)
    }
}

/// A link change in force: links `from -> to` (`None`: every node) behave as `faults`.
#[derive(Clone, Debug, PartialEq)]
struct LinkChange {
    from: Option<u32>,
    to: Option<u32>,
    faults: LinkFaults,
}

impl Network {
    pub fn new(seed: u64) -> Network {
        let mut keys = [0u64; DRAW_KINDS];
        for (key, name) in keys.iter_mut().zip(DRAW_NAMES) {
            *key = derive_rng(seed, &format!("net/{name}")).next_u64();
        }
        Network {
            n: 0,
            keys,
            base: LinkFaults::default(),
            counters: LinkCounters::default(),
            rules: Vec::new(),
            link_changes: Vec::new(),
            stats: NetStats::default(),
        }
    }

    pub fn node_count(&self) -> usize {
        self.n
    }

    /// Grow to `n` nodes; new links get the behaviour the rules in force give them.
    pub fn grow(&mut self, n: usize) {
        self.n = self.n.max(n);
    }

    /// The behaviour links return to on heal, applied to every link now.
    pub fn set_base(&mut self, base: LinkFaults) {
        self.base = base;
        self.restore_base();
    }

    pub fn base(&self) -> &LinkFaults {
        &self.base
    }

    /// Every link back to the base behaviour; no link change stays in force.
    pub fn restore_base(&mut self) {
        self.link_changes.clear();
    }

    /// Begin a link change: links `from -> to` behave as `faults` until it is restored.
    pub fn change_links(&mut self, from: Option<u32>, to: Option<u32>, faults: &LinkFaults) {
        self.link_changes.push(LinkChange {
            from,
            to,
            faults: faults.clone(),
        });
    }

    /// End the latest link change of `from -> to` (with these `faults`, if given): those
    /// links fall back to the changes still in force, or to the base. A restore that
    /// matches no change in force does nothing.
    pub fn restore_links(
        &mut self,
        from: Option<u32>,
        to: Option<u32>,
        faults: Option<&LinkFaults>,
    ) {
        if let Some(i) = self
            .link_changes
            .iter()
            .rposition(|c| c.from == from && c.to == to && faults.is_none_or(|f| *f == c.faults))
        {
            self.link_changes.remove(i);
        }
    }

    /// How `from -> to` behaves now: as the latest link change in force that covers it, or
    /// as the base.
    pub fn link_faults(&self, from: usize, to: usize) -> &LinkFaults {
        faults_of(&self.link_changes, &self.base, from, to)
    }

    /// Whether `from` cannot reach `to` now: some cut in force cuts it.
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        from != to
            && self.rules.iter().any(|rule| match rule {
                // A node in no group is alone: cut from everyone but itself.
                CutRule::Groups(_, group_of) => {
                    let (a, b) = (group_of.get(from), group_of.get(to));
                    a != b || a == usize::MAX
                }
                CutRule::OneWay(f, t) => *f as usize == from && *t as usize == to,
                CutRule::Isolate(x) => *x as usize == from || *x as usize == to,
            })
    }

    /// Begin a partition into `groups` (see [`crate::Fault::Partition`]).
    pub fn partition(&mut self, groups: Vec<Vec<u32>>) {
        let groups = crate::faults::normalise_groups(&groups);
        let group_of = GroupOf::new(&groups);
        self.begin_cut(CutRule::Groups(groups, group_of));
    }

    /// End one partition into `groups`.
    pub fn unpartition(&mut self, groups: &[Vec<u32>]) {
        let groups = crate::faults::normalise_groups(groups);
        let group_of = GroupOf::new(&groups);
        self.end_cut(&CutRule::Groups(groups, group_of));
    }

    /// Begin a cut of the one direction `from -> to`.
    pub fn cut_one_way(&mut self, from: u32, to: u32) {
        self.begin_cut(CutRule::OneWay(from, to));
    }

    /// End one cut of `from -> to`.
    pub fn reconnect(&mut self, from: u32, to: u32) {
        self.end_cut(&CutRule::OneWay(from, to));
    }

    /// Begin cutting `node` off from everyone.
    pub fn isolate(&mut self, node: u32) {
        self.begin_cut(CutRule::Isolate(node));
    }

    /// End one isolation of `node`.
    pub fn rejoin(&mut self, node: u32) {
        self.end_cut(&CutRule::Isolate(node));
    }

    /// End every cut in force.
    pub fn repair(&mut self) {
        self.rules.clear();
    }

    fn begin_cut(&mut self, rule: CutRule) {
        self.rules.push(rule);
    }

    /// Remove the latest cut equal to `rule`; an undo of a cut not in force does nothing.
    fn end_cut(&mut self, rule: &CutRule) {
        if let Some(i) = self.rules.iter().rposition(|r| r == rule) {
            self.rules.remove(i);
        }
    }

    /// The number of link `from -> to` in the draws: its index in an n x n matrix.
    fn link_id(&self, from: usize, to: usize) -> usize {
        from * self.n + to
    }

    /// The draw of `kind` number `sub` for the `index`-th use of link `link`.
    fn draw(&self, kind: Draw, link: usize, index: u32, sub: u64) -> u64 {
        let x = ((index as u64) << 32 | (link as u64 & 0xffff_ffff)) ^ self.keys[kind as usize];
        mix(mix(x)
            ^ sub.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ self.keys[kind as usize].rotate_left(32))
    }

    fn chance(&self, kind: Draw, link: usize, index: u32, p: f64) -> bool {
        p > 0.0
            && ((self.draw(kind, link, index, 0) >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    /// A draw uniform in `0..=span`.
    fn up_to(&self, kind: Draw, link: usize, index: u32, sub: u64, span: u64) -> u64 {
        if span == 0 {
            return 0;
        }
        let x = self.draw(kind, link, index, sub);
        match span.checked_add(1) {
            Some(range) => ((x as u128 * range as u128) >> 64) as u64,
            None => x,
        }
    }

    /// One-way latency for the next stream segment or control message on `from -> to`.
    pub fn latency(&mut self, from: usize, to: usize) -> u64 {
        let link = self.link_id(from, to);
        let index = self.counters.next(Counter::Segments, from, to, self.n);
        let f = self.link_faults(from, to);
        let (min, max) = (f.latency_min_ns, f.latency_max_ns);
        min + self.up_to(Draw::StreamLatency, link, index, 0, max.saturating_sub(min))
    }

    /// Draw the fate of the next datagram on `from -> to`.
    pub fn datagram_fate(&mut self, from: usize, to: usize) -> Fate {
        let link = self.link_id(from, to);
        let index = self.counters.next(Counter::Datagrams, from, to, self.n);
        let mut fate = Fate {
            delays: [None, None],
            corrupt: false,
            truncate: false,
            index,
        };
        let f = faults_of(&self.link_changes, &self.base, from, to);
        if self.chance(Draw::Loss, link, index, f.loss) {
            self.stats.datagrams_lost += 1;
            return fate;
        }
        let copies = if self.chance(Draw::Duplicate, link, index, f.duplicate) {
            self.stats.datagrams_duplicated += 1;
            2
        } else {
            1
        };
        fate.corrupt = self.chance(Draw::Corrupt, link, index, f.corrupt);
        fate.truncate = self.chance(Draw::Truncate, link, index, f.truncate);
        let span = f.latency_max_ns.saturating_sub(f.latency_min_ns);
        for copy in 0..copies {
            let mut delay = f.latency_min_ns + self.up_to(Draw::Latency, link, index, copy, span);
            if f.reorder > 0.0
                && self.up_to(Draw::Reorder, link, index, copy, u64::MAX)
                    < (f.reorder * u64::MAX as f64) as u64
            {
                delay += self.up_to(Draw::ReorderDelay, link, index, copy, f.reorder_delay_ns);
                self.stats.datagrams_reordered += 1;
            }
            fate.delays[copy as usize] = Some(delay);
        }
        fate
    }

    /// Flip one to three distinct bits of `data`.
    pub fn corrupt(&mut self, from: usize, to: usize, fate: &Fate, data: &mut [u8]) {
        if data.is_empty() {
            return;
        }
        let link = self.link_id(from, to);
        let flips = 1 + self.up_to(Draw::Corrupt, link, fate.index, 1, 2) as usize;
        let last_bit = data.len() as u64 * 8 - 1;
        // Bits are distinct: flipping one bit twice would undo it, and a datagram counted
        // as corrupted would arrive intact. A repeat is drawn again with the next sub-draw,
        // so draws without a repeat are unchanged. (Every datagram has at least 8 bits.)
        let mut flipped = [usize::MAX; 3];
        let mut sub = 2;
        for i in 0..flips {
            let bit = loop {
                let bit = self.up_to(Draw::Corrupt, link, fate.index, sub, last_bit) as usize;
                sub += 1;
                if !flipped[..i].contains(&bit) {
                    break bit;
                }
            };
            flipped[i] = bit;
            data[bit / 8] ^= 1 << (bit % 8);
        }
        self.stats.datagrams_corrupted += 1;
    }

    /// Cut `data` to a random shorter length.
    pub fn truncate(&mut self, from: usize, to: usize, fate: &Fate, data: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let link = self.link_id(from, to);
        let len = self.up_to(Draw::Truncate, link, fate.index, 1, data.len() as u64 - 1);
        data.truncate(len as usize);
        self.stats.datagrams_truncated += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count_on_across_widening_and_growth() {
        let mut counters = LinkCounters::default();
        let mut reference = [[0u32; 6]; 6];
        // Link 0 -> 1 passes 255 (its row widens), others stay narrow; the world grows
        // from 3 to 6 nodes halfway.
        for step in 0..2_000usize {
            let n = if step < 1_000 { 3 } else { 6 };
            let (from, to) = match step % 4 {
                0 | 1 => (0, 1),
                2 => (step % n, (step / 7) % n),
                _ => (2, step % n),
            };
            let got = counters.next(Counter::Datagrams, from, to, n);
            assert_eq!(got, reference[from][to], "step {step}: {from} -> {to}");
            reference[from][to] += 1;
        }
        assert!(reference[0][1] > 255);
        assert!(matches!(counters.rows[0][0], CounterRow::Wide(_)));
        assert!(matches!(counters.rows[0][2], CounterRow::Narrow(_)));
        assert!(counters.rows[1].is_empty(), "segment counters untouched");
    }
}
