//! Property tests: the store against a naive model, and the line protocol against
//! arbitrary bytes and chunkings.

use kv::protocol::{parse_request, LineReader, ParseError, Request};
use kv::store::Store;
use proptest::prelude::*;

/// The simplest model of SPEC.md §2: an association list, searched linearly.
#[derive(Default)]
struct Model(Vec<(Vec<u8>, Vec<Vec<u8>>)>);

impl Model {
    fn slot(&mut self, key: &[u8]) -> &mut Vec<Vec<u8>> {
        if let Some(i) = self.0.iter().position(|(k, _)| k == key) {
            return &mut self.0[i].1;
        }
        self.0.push((key.to_vec(), Vec::new()));
        &mut self.0.last_mut().unwrap().1
    }
    fn apply(&mut self, req: &Request) {
        match req {
            Request::Put { key, value } => self.slot(key).push(value.clone()),
            Request::Get { .. } => {}
            Request::Delete { key } => self.0.retain(|(k, _)| k != key),
            Request::Update { key, old, new } => {
                let list = self.slot(key);
                let mut kept = Vec::new();
                let mut removed = false;
                for v in list.drain(..) {
                    if !removed && &v == old {
                        removed = true;
                    } else {
                        kept.push(v);
                    }
                }
                kept.push(new.clone());
                *list = kept;
            }
        }
    }
    fn get(&self, key: &[u8]) -> Vec<Vec<u8>> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }
}

fn field() -> impl Strategy<Value = Vec<u8>> {
    // Few distinct keys and values, so updates find matches and lists grow.
    prop::sample::select(vec!["a", "b", "c", "key_1_2", "v 3"]).prop_map(|s| s.as_bytes().to_vec())
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (field(), field()).prop_map(|(key, value)| Request::Put { key, value }),
        field().prop_map(|key| Request::Get { key }),
        field().prop_map(|key| Request::Delete { key }),
        (field(), field(), field()).prop_map(|(key, old, new)| Request::Update { key, old, new }),
    ]
}

fn apply(store: &mut Store, req: &Request) {
    match req {
        Request::Put { key, value } => store.put(key, value),
        Request::Get { .. } => {}
        Request::Delete { key } => store.delete(key),
        Request::Update { key, old, new } => store.update(key, old, new),
    }
}

proptest! {
    #[test]
    fn store_matches_model(ops in prop::collection::vec(request(), 0..200)) {
        let mut store = Store::new();
        let mut model = Model::default();
        for op in &ops {
            apply(&mut store, op);
            model.apply(op);
            let key = op.key();
            let got: Vec<Vec<u8>> = store.get(key).iter().map(|v| v.to_vec()).collect();
            prop_assert_eq!(got, model.get(key));
        }
        let mut expected: Vec<_> = model.0.into_iter().collect();
        expected.sort();
        let got: Vec<_> = store
            .backdoor()
            .iter()
            .map(|(k, v)| (k.to_vec(), v.iter().map(|x| x.to_vec()).collect::<Vec<_>>()))
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn encoded_requests_parse_back(req in request()) {
        let line = req.encode();
        prop_assert_eq!(parse_request(&line[..line.len() - 1]), Ok(req));
    }

    #[test]
    fn any_bytes_parse_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_request(&bytes);
    }

    #[test]
    fn line_reader_is_chunking_independent(
        lines in prop::collection::vec(prop::collection::vec(b'a'..=b'z', 0..40), 0..20),
        cuts in prop::collection::vec(0usize..1000, 0..10),
        max_line in 5usize..50,
    ) {
        let mut stream = Vec::new();
        for l in &lines {
            stream.extend_from_slice(l);
            stream.push(b'\n');
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.sort();
        let mut reader = LineReader::new(max_line);
        let mut got = Vec::new();
        let mut from = 0;
        for at in cuts.into_iter().chain([stream.len()]) {
            reader.feed(&stream[from..at], |l| got.push(l.map(<[u8]>::to_vec)));
            from = at;
            prop_assert!(reader.buffered() <= max_line);
        }
        let expected: Vec<Result<Vec<u8>, ParseError>> = lines
            .into_iter()
            .map(|l| if l.len() > max_line { Err(ParseError::TooLong) } else { Ok(l) })
            .collect();
        prop_assert_eq!(got, expected);
    }
}
