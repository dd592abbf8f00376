//! Planted bugs: a system's configuration may carry a [`BugSet`] naming known-wrong
//! behaviours to switch on, one at a time, so a sweep can show that its scenarios catch
//! them. An empty set (the default) leaves the system exactly as written.
//!
//! A system lists its bugs as a field-less enum that implements [`BugId`]; the code at a
//! bug's site asks `cfg.bugs.has(Bug::X)`.

use std::fmt;
use std::marker::PhantomData;

/// Declare a system's planted bugs: a field-less enum, each variant numbered below 64,
/// with the traits a [`BugSet`] needs.
///
/// ```
/// faultline::planted_bugs! {
///     /// What can go wrong here.
///     pub enum Bug {
///         /// Forgets to look.
///         NoCheck = 0,
///     }
/// }
/// assert!(faultline::bugs::BugSet::one(Bug::NoCheck).has(Bug::NoCheck));
/// ```
#[macro_export]
macro_rules! planted_bugs {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $n:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant = $n,)*
        }
        impl $crate::bugs::BugId for $name {
            fn bit(self) -> u32 {
                self as u32
            }
        }
    };
}

/// One system's planted bugs: an enum whose variants are numbered below 64.
pub trait BugId: Copy + fmt::Debug {
    /// The variant's number, in `0..64`.
    fn bit(self) -> u32;
}

/// A set of planted bugs of one system. `Copy`, so configurations that are `Copy` keep it.
pub struct BugSet<B> {
    bits: u64,
    kind: PhantomData<fn() -> B>,
}

impl<B: BugId> BugSet<B> {
    /// No bug: the system as written.
    pub const NONE: BugSet<B> = BugSet {
        bits: 0,
        kind: PhantomData,
    };

    /// The set holding only `bug`.
    pub fn one(bug: B) -> BugSet<B> {
        BugSet::NONE.with(bug)
    }

    /// This set and `bug`.
    pub fn with(self, bug: B) -> BugSet<B> {
        BugSet {
            bits: self.bits | Self::mask(bug),
            kind: PhantomData,
        }
    }

    /// Whether `bug` is planted.
    #[inline]
    pub fn has(&self, bug: B) -> bool {
        self.bits & Self::mask(bug) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    fn mask(bug: B) -> u64 {
        let bit = bug.bit();
        assert!(bit < 64, "bug {bug:?} is numbered {bit}, past 63");
        1 << bit
    }
}

impl<B> Clone for BugSet<B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B> Copy for BugSet<B> {}
impl<B> Default for BugSet<B> {
    fn default() -> Self {
        BugSet {
            bits: 0,
            kind: PhantomData,
        }
    }
}
impl<B> PartialEq for BugSet<B> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}
impl<B> Eq for BugSet<B> {}
impl<B> fmt::Debug for BugSet<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BugSet({:#x})", self.bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    enum B {
        X = 0,
        Y = 5,
    }
    impl BugId for B {
        fn bit(self) -> u32 {
            self as u32
        }
    }

    #[test]
    fn a_set_holds_what_was_planted_and_nothing_else() {
        let none = BugSet::<B>::default();
        assert!(none.is_empty() && !none.has(B::X) && !none.has(B::Y));
        let one = BugSet::one(B::Y);
        assert!(one.has(B::Y) && !one.has(B::X));
        assert!(one.with(B::X).has(B::X));
        assert_eq!(none, BugSet::NONE);
    }
}
