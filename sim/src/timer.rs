//! Typed timer tags.
//!
//! A node names what each of its timers is for with a value of its own tag type
//! ([`Node::Timer`](crate::Node::Timer)), usually a small enum declared with
//! [`timer_tags!`](crate::timer_tags). Runtimes carry the tag as a raw `u64` (that is what
//! the trace hashes and the real runtime's timer heap hold) and decode it back into the
//! node's type before `on_timer`, so a node never matches on bare numbers.
//!
//! A node that embeds another state machine (a miner embeds an LSP endpoint, a Raft server
//! embeds the Raft core) gives its tag enum a variant per embedded part, and the part sets
//! its timers through `From`: `ctx.set_timer(d, T::from(LspTimer::Epoch))`. The numbering
//! then lives in one place, the outer type's [`TimerTag`] impl.

/// A value that names a timer's purpose, carried through a runtime as a raw `u64`.
///
/// `from_raw(t.to_raw()) == Some(t)` must hold for every tag `t`.
pub trait TimerTag: Copy + 'static {
    /// The number the runtime carries (and the trace hashes).
    fn to_raw(self) -> u64;
    /// The tag a raw number stands for, or `None` if it names none of this type's tags.
    fn from_raw(raw: u64) -> Option<Self>;
}

/// For a node with a single kind of timer, or none: every timer has tag 0.
impl TimerTag for () {
    fn to_raw(self) -> u64 {
        0
    }
    fn from_raw(raw: u64) -> Option<()> {
        (raw == 0).then_some(())
    }
}

/// For test nodes whose tag is data (a node that echoes the tag it was given). Systems
/// declare enums with [`timer_tags!`](crate::timer_tags) instead.
impl TimerTag for u64 {
    fn to_raw(self) -> u64 {
        self
    }
    fn from_raw(raw: u64) -> Option<u64> {
        Some(raw)
    }
}

/// A tag of unknown type, as a world of several node kinds carries it: each kind decodes it
/// into its own tag type (see [`node_kinds!`](crate::node_kinds)).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct RawTimer(pub u64);

impl TimerTag for RawTimer {
    fn to_raw(self) -> u64 {
        self.0
    }
    fn from_raw(raw: u64) -> Option<RawTimer> {
        Some(RawTimer(raw))
    }
}

/// Decode a raw tag into `T`. A tag that is not a `T` is a bug in the node that set the
/// timer (it used another type's tag), never something a peer can cause, so it panics.
pub fn decode<T: TimerTag>(raw: u64) -> T {
    T::from_raw(raw).unwrap_or_else(|| {
        panic!(
            "timer tag {raw} is not a {}: the node set a timer with another type's tag",
            std::any::type_name::<T>()
        )
    })
}

/// Declare a fieldless enum of timer tags with fixed numbers, and implement [`TimerTag`]
/// for it. The numbers are what the trace hashes, so keep them stable.
///
/// ```
/// faultline::timer_tags! {
///     /// What a Raft server's timers are for.
///     pub enum RaftTimer {
///         Election = 1,
///         Heartbeat = 2,
///     }
/// }
/// use faultline::TimerTag;
/// assert_eq!(RaftTimer::Heartbeat.to_raw(), 2);
/// assert_eq!(RaftTimer::from_raw(1), Some(RaftTimer::Election));
/// assert_eq!(RaftTimer::from_raw(3), None);
/// ```
#[macro_export]
macro_rules! timer_tags {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $raw:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $crate::TimerTag for $name {
            fn to_raw(self) -> u64 {
                match self {
                    $( $name::$variant => $raw ),+
                }
            }
            fn from_raw(raw: u64) -> Option<Self> {
                match raw {
                    $( $raw => Some($name::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::timer_tags! {
        enum Tags { A = 3, B = 7 }
    }

    #[test]
    fn tags_round_trip_and_foreign_numbers_are_refused() {
        for t in [Tags::A, Tags::B] {
            assert_eq!(Tags::from_raw(t.to_raw()), Some(t));
        }
        assert_eq!(Tags::from_raw(0), None);
        assert_eq!(<()>::from_raw(1), None);
        assert_eq!(decode::<RawTimer>(9), RawTimer(9));
    }

    #[test]
    #[should_panic(expected = "is not a")]
    fn decoding_another_types_tag_is_a_bug() {
        let _: Tags = decode(5);
    }
}
