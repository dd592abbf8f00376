//! The store's planted bugs (see `faultline bugs`): classic mistakes of an eventually
//! consistent replicated store, switched on one at a time through [`ServerConfig::bugs`]
//! for a bug hunt. None is planted by default, and then the code runs as written.
//!
//! [`ServerConfig::bugs`]: crate::server::ServerConfig::bugs

faultline::planted_bugs! {
    /// Known-wrong behaviours that can be planted; none by default.
    pub enum Bug {
        /// Last-writer-wins compares the values instead of the (timestamp, uid) stamps.
        LwwByValue = 0,
        /// Equal timestamps are not broken by the uid: each replica keeps what it has.
        LwwTieNoUid = 1,
        /// The representative applies remote sync but does not relay it to its local actors.
        SyncSkipsRelay = 2,
        /// A stream that broke and reconnected is not followed by a full-state exchange.
        NoResyncOnReconnect = 3,
        /// The reply to a Put leaves before its entry is synced to storage; the sync waits
        /// for the node's next timer.
        ReplyBeforeSync = 4,
    }
}
