//! The store the server serialises access to: a key maps to an ordered list of byte values.
//!
//! Semantics are exactly SPEC.md §2: Put appends; Get returns the whole list
//! (empty for a missing key); Delete removes the key and all its values; Update removes the
//! *first* value byte-equal to `old` (if any) and appends `new` at the *end* of the list,
//! creating the key if it is missing. A `BTreeMap` keeps iteration order deterministic, so
//! two stores can be compared and printed the same way on every run.
//!
//! Keys and values are reference-counted, so a queued reply refers to the bytes it quotes
//! instead of copying them (see `crate::queue`).

use std::collections::BTreeMap;
use std::sync::Arc;

/// A key or a value, shared by the store and the replies that quote it.
// An `Arc`, not an `Rc`: the same server runs on madsim, whose nodes must be `Send`.
pub type Bytes = Arc<[u8]>;

/// The store's contents: key -> ordered list of values.
pub type Map = BTreeMap<Bytes, Vec<Bytes>>;

/// Key -> ordered list of values (SPEC.md §2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Store {
    map: Map,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Append `value` to the end of `key`'s list, creating the key if missing.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.list(key).push(Arc::from(value));
    }

    /// The whole list of `key`; empty if the key is missing.
    pub fn get(&self, key: &[u8]) -> &[Bytes] {
        self.map.get(key).map_or(&[], Vec::as_slice)
    }

    /// The stored key equal to `key` and its list, to share rather than copy.
    pub fn get_shared(&self, key: &[u8]) -> Option<(&Bytes, &[Bytes])> {
        self.map.get_key_value(key).map(|(k, v)| (k, v.as_slice()))
    }

    /// `key`'s list, created empty if missing.
    fn list(&mut self, key: &[u8]) -> &mut Vec<Bytes> {
        self.map.entry(Arc::from(key)).or_default()
    }

    /// Remove `key` and all of its values. Deleting a missing key does nothing.
    pub fn delete(&mut self, key: &[u8]) {
        self.map.remove(key);
    }

    /// Remove the first value equal to `old` (if there is one) and append `new` at the end.
    /// A missing key is created with `new` as its only value.
    pub fn update(&mut self, key: &[u8], old: &[u8], new: &[u8]) {
        let list = self.list(key);
        if let Some(at) = list.iter().position(|v| **v == *old) {
            list.remove(at);
        }
        list.push(Arc::from(new));
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The raw map, in key order (the tests' "backdoor", SPEC.md §2).
    pub fn backdoor(&self) -> &Map {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(store: &Store, key: &str) -> Vec<String> {
        store
            .get(key.as_bytes())
            .iter()
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn put_appends_and_get_of_missing_key_is_empty() {
        let mut s = Store::new();
        assert!(s.get(b"k").is_empty());
        s.put(b"k", b"a");
        s.put(b"k", b"b");
        s.put(b"k", b"a");
        assert_eq!(list(&s, "k"), ["a", "b", "a"]);
    }

    #[test]
    fn delete_removes_every_value() {
        let mut s = Store::new();
        s.put(b"k", b"a");
        s.put(b"j", b"x");
        s.delete(b"k");
        s.delete(b"missing");
        assert!(s.get(b"k").is_empty());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn update_moves_first_equal_value_to_the_end() {
        let mut s = Store::new();
        for v in ["a", "b", "a", "c"] {
            s.put(b"k", v.as_bytes());
        }
        s.update(b"k", b"a", b"z");
        // The first "a" goes; "z" is appended, not put in place.
        assert_eq!(list(&s, "k"), ["b", "a", "c", "z"]);
    }

    #[test]
    fn update_without_match_appends_and_creates_missing_keys() {
        let mut s = Store::new();
        s.put(b"k", b"a");
        s.update(b"k", b"nope", b"n");
        assert_eq!(list(&s, "k"), ["a", "n"]);
        s.update(b"fresh", b"x", b"y");
        assert_eq!(list(&s, "fresh"), ["y"]);
    }
}
