//! The network between simulated nodes: per directed link behaviour and partitions.
//!
//! Each directed link draws each kind of fault from its own named RNG stream
//! (`link/<from>-><to>/<kind>`), created on first use, so turning one fault kind on or off
//! leaves the draws of the others untouched.

use crate::faults::LinkFaults;
use crate::rng::derive_rng;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
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
    /// Delivery delays of the copies that arrive (empty: lost).
    pub delays: [Option<u64>; 2],
    pub corrupt: bool,
    pub truncate: bool,
}

#[derive(Default)]
struct LinkRngs {
    latency: Option<ChaCha8Rng>,
    loss: Option<ChaCha8Rng>,
    duplicate: Option<ChaCha8Rng>,
    reorder: Option<ChaCha8Rng>,
    corrupt: Option<ChaCha8Rng>,
    truncate: Option<ChaCha8Rng>,
}

struct Link {
    faults: LinkFaults,
    rngs: LinkRngs,
}

/// Links, partitions and counters for `n` nodes.
pub struct Network {
    seed: u64,
    base: LinkFaults,
    /// links[from][to]
    links: Vec<Vec<Link>>,
    /// cut[from][to]: `from` cannot reach `to`.
    cut: Vec<Vec<bool>>,
    rules: Vec<CutRule>,
    pub stats: NetStats,
}

#[derive(Clone, Debug)]
enum CutRule {
    Groups(Vec<Vec<u32>>),
    OneWay(u32, u32),
    Isolate(u32),
}

fn stream<'a>(
    slot: &'a mut Option<ChaCha8Rng>,
    seed: u64,
    from: usize,
    to: usize,
    kind: &str,
) -> &'a mut ChaCha8Rng {
    slot.get_or_insert_with(|| derive_rng(seed, &format!("link/{from}->{to}/{kind}")))
}

fn chance(
    slot: &mut Option<ChaCha8Rng>,
    seed: u64,
    from: usize,
    to: usize,
    kind: &str,
    p: f64,
) -> bool {
    p > 0.0 && stream(slot, seed, from, to, kind).gen_bool(p.min(1.0))
}

impl Network {
    pub fn new(seed: u64) -> Network {
        Network {
            seed,
            base: LinkFaults::default(),
            links: Vec::new(),
            cut: Vec::new(),
            rules: Vec::new(),
            stats: NetStats::default(),
        }
    }

    pub fn node_count(&self) -> usize {
        self.links.len()
    }

    /// Grow to `n` nodes; new links get the base behaviour.
    pub fn grow(&mut self, n: usize) {
        while self.links.len() < n {
            self.links.push(Vec::new());
            self.cut.push(Vec::new());
        }
        for row in &mut self.links {
            while row.len() < n {
                row.push(Link {
                    faults: self.base.clone(),
                    rngs: LinkRngs::default(),
                });
            }
        }
        for row in &mut self.cut {
            row.resize(n, false);
        }
        self.recompute_cuts();
    }

    /// The behaviour links return to on heal, applied to every link now.
    pub fn set_base(&mut self, base: LinkFaults) {
        self.base = base;
        self.restore_base();
    }

    pub fn base(&self) -> &LinkFaults {
        &self.base
    }

    /// Every link back to the base behaviour.
    pub fn restore_base(&mut self) {
        for row in &mut self.links {
            for link in row {
                link.faults = self.base.clone();
            }
        }
    }

    /// Set the links `from -> to` (`None`: every node) to `faults`.
    pub fn set_links(&mut self, from: Option<u32>, to: Option<u32>, faults: &LinkFaults) {
        for (f, row) in self.links.iter_mut().enumerate() {
            if from.is_some_and(|x| x as usize != f) {
                continue;
            }
            for (t, link) in row.iter_mut().enumerate() {
                if to.is_none_or(|x| x as usize == t) {
                    link.faults = faults.clone();
                }
            }
        }
    }

    pub fn link_faults(&self, from: usize, to: usize) -> &LinkFaults {
        &self.links[from][to].faults
    }

    /// Whether `from` cannot reach `to` now.
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut[from][to]
    }

    pub fn partition(&mut self, groups: Vec<Vec<u32>>) {
        self.rules.push(CutRule::Groups(groups));
        self.recompute_cuts();
    }

    pub fn cut_one_way(&mut self, from: u32, to: u32) {
        self.rules.push(CutRule::OneWay(from, to));
        self.recompute_cuts();
    }

    pub fn isolate(&mut self, node: u32) {
        self.rules.push(CutRule::Isolate(node));
        self.recompute_cuts();
    }

    pub fn repair(&mut self) {
        self.rules.clear();
        self.recompute_cuts();
    }

    fn recompute_cuts(&mut self) {
        let n = self.cut.len();
        for row in &mut self.cut {
            row.iter_mut().for_each(|c| *c = false);
        }
        for rule in &self.rules {
            match rule {
                CutRule::Groups(groups) => {
                    let mut group_of = vec![usize::MAX; n];
                    for (g, members) in groups.iter().enumerate() {
                        for &m in members {
                            if let Some(slot) = group_of.get_mut(m as usize) {
                                *slot = g;
                            }
                        }
                    }
                    for a in 0..n {
                        for b in 0..n {
                            // A node in no group is alone: cut from everyone but itself.
                            if a != b && (group_of[a] != group_of[b] || group_of[a] == usize::MAX) {
                                self.cut[a][b] = true;
                            }
                        }
                    }
                }
                CutRule::OneWay(from, to) => {
                    if let Some(c) = self
                        .cut
                        .get_mut(*from as usize)
                        .and_then(|r| r.get_mut(*to as usize))
                    {
                        *c = true;
                    }
                }
                CutRule::Isolate(node) => {
                    let x = *node as usize;
                    for other in 0..n {
                        if other != x && x < n {
                            self.cut[x][other] = true;
                            self.cut[other][x] = true;
                        }
                    }
                }
            }
        }
    }

    /// One-way latency for a stream segment or control message on `from -> to` (no faults).
    pub fn latency(&mut self, from: usize, to: usize) -> u64 {
        let seed = self.seed;
        let link = &mut self.links[from][to];
        let (min, max) = (link.faults.latency_min_ns, link.faults.latency_max_ns);
        if max <= min {
            return min;
        }
        stream(&mut link.rngs.latency, seed, from, to, "latency").gen_range(min..=max)
    }

    /// Draw the fate of one datagram on `from -> to`.
    pub fn datagram_fate(&mut self, from: usize, to: usize) -> Fate {
        let seed = self.seed;
        let mut fate = Fate {
            delays: [None, None],
            corrupt: false,
            truncate: false,
        };
        let link = &mut self.links[from][to];
        let f = &link.faults;
        let r = &mut link.rngs;
        if chance(&mut r.loss, seed, from, to, "loss", f.loss) {
            self.stats.datagrams_lost += 1;
            return fate;
        }
        let copies = if chance(&mut r.duplicate, seed, from, to, "duplicate", f.duplicate) {
            self.stats.datagrams_duplicated += 1;
            2
        } else {
            1
        };
        fate.corrupt = chance(&mut r.corrupt, seed, from, to, "corrupt", f.corrupt);
        fate.truncate = chance(&mut r.truncate, seed, from, to, "truncate", f.truncate);
        let (min, max, reorder, reorder_delay) = (
            f.latency_min_ns,
            f.latency_max_ns,
            f.reorder,
            f.reorder_delay_ns,
        );
        for slot in fate.delays.iter_mut().take(copies) {
            let mut delay = if max > min {
                stream(&mut r.latency, seed, from, to, "latency").gen_range(min..=max)
            } else {
                min
            };
            if chance(&mut r.reorder, seed, from, to, "reorder", reorder) {
                delay +=
                    stream(&mut r.reorder, seed, from, to, "reorder").gen_range(0..=reorder_delay);
                self.stats.datagrams_reordered += 1;
            }
            *slot = Some(delay);
        }
        fate
    }

    /// Flip one to three bits of `data` (a truncation to zero leaves nothing to flip).
    pub fn corrupt(&mut self, from: usize, to: usize, data: &mut [u8]) {
        if data.is_empty() {
            return;
        }
        let seed = self.seed;
        let rng = stream(
            &mut self.links[from][to].rngs.corrupt,
            seed,
            from,
            to,
            "corrupt",
        );
        for _ in 0..rng.gen_range(1..=3) {
            let bit = rng.gen_range(0..data.len() * 8);
            data[bit / 8] ^= 1 << (bit % 8);
        }
        self.stats.datagrams_corrupted += 1;
    }

    /// Cut `data` to a random shorter length.
    pub fn truncate(&mut self, from: usize, to: usize, data: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let seed = self.seed;
        let rng = stream(
            &mut self.links[from][to].rngs.truncate,
            seed,
            from,
            to,
            "truncate",
        );
        let len = rng.gen_range(0..data.len());
        data.truncate(len);
        self.stats.datagrams_truncated += 1;
    }
}
