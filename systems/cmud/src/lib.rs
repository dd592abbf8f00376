//! P3 of faultline: CMUD, a multiplayer text game on a geo-distributed, eventually
//! consistent key-value store built on actors (behaviour reference: `SPEC.md` beside this
//! crate, once written).
//!
//! Work in progress: the actor system, the store and the game land here module by module.

pub mod game;
