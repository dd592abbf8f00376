//! The game against an in-memory store: each command's reads and writes in the key schema,
//! prices and refusals, the sans-IO turn, sessions over pipes, and bots.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

fn bob() -> Player {
    Player::new("bob").unwrap()
}

/// A store holding these pairs.
fn store_with(pairs: &[(&str, &str)]) -> MemStore {
    let mut s = MemStore::default();
    for (k, v) in pairs {
        s.map.insert(k.to_string(), v.to_string());
    }
    s
}

/// Plays `line` for bob in `mode` against `store`, answering by hand: the outcome and
/// every operation the turn asked for, in order.
fn turn_ops(store: &mut MemStore, mode: Mode, line: &str, seed: u64) -> (Outcome, Vec<Op>) {
    let (mut turn, mut step) = Turn::start(&bob(), mode, line, seed);
    let mut ops = Vec::new();
    loop {
        match step {
            Step::Need(op) => {
                step = turn.resume(apply(store, &op));
                ops.push(op);
            }
            Step::Done(outcome) => return (outcome, ops),
        }
    }
}

fn get(key: &str) -> Op {
    Op::Get {
        key: key.to_string(),
    }
}

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.to_string(),
        value: value.to_string(),
    }
}

fn list(prefix: &str) -> Op {
    Op::List {
        prefix: prefix.to_string(),
    }
}

fn session(store: &mut dyn Store, name: &str, input: &[u8]) -> String {
    let mut out = Vec::new();
    play_seeded(store, name, 7, &mut &input[..], &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn enter_puts_a_new_player_on_the_map_and_nothing_else() {
    let mut s = MemStore::default();
    let (out, ops) = turn_ops(&mut s, Mode::Main, "stats", 0);
    assert_eq!(out.status, Status::Ok);
    assert_eq!(ops.len(), 5);
    let (mut turn, step) = Turn::enter(&bob(), 0);
    assert_eq!(step, Step::Need(get("loc/bob")));
    assert_eq!(
        turn.resume(Reply::Value(None)),
        Step::Need(put("loc/bob", "5"))
    );
    let Step::Done(out) = turn.resume(Reply::Stored) else {
        panic!("enter is one read and one write")
    };
    assert_eq!((out.status, out.mode), (Status::Ok, Mode::Main));
    assert!(
        out.text.starts_with("Welcome to CMUD, bob."),
        "{}",
        out.text
    );
}

#[test]
fn enter_never_overwrites_a_returning_player() {
    let before = [("bob", "PhD"), ("loc/bob", "fence"), ("balance/bob", "40")];
    let mut s = store_with(&before);
    let (mut turn, step) = Turn::enter(&bob(), 0);
    let out = drive(&mut s, &mut turn, step);
    assert!(out.text.starts_with("Welcome back, bob."), "{}", out.text);
    assert_eq!(s, store_with(&before));
    // A replica that has the place but not yet the level: the level is not reset.
    let mut s = store_with(&[("loc/bob", "2")]);
    let (mut turn, step) = Turn::enter(&bob(), 0);
    drive(&mut s, &mut turn, step);
    assert_eq!(s, store_with(&[("loc/bob", "2")]));
}

#[test]
fn help_shop_stats_and_inv_only_read() {
    let before = [
        ("bob", "Masters"),
        ("loc/bob", "bridge"),
        ("balance/bob", "130"),
        ("comp/bob/gpu", "2"),
        ("comp/bob/cpu", "3"),
        ("comp/bobby/asic", "9"),
        ("comp/bob/abacus", "4"),
        ("Masters", "420"),
    ];
    let mut s = store_with(&before);

    let (out, ops) = turn_ops(&mut s, Mode::Main, "help", 0);
    assert_eq!((out.status, ops.len()), (Status::Ok, 0));
    assert_eq!(out.text, help(Mode::Main));

    let (out, ops) = turn_ops(&mut s, Mode::Main, "stats", 0);
    let expect_ops = [
        get("bob"),
        get("loc/bob"),
        get("balance/bob"),
        list("comp/bob/"),
        get("Masters"),
    ];
    assert_eq!(ops, expect_ops);
    assert_eq!(
        out.text,
        "bob: Masters at the bridge\ncoins: 130\npower: 24 (base 1 + hardware 23)\n\
         problem: Masters, 420 of 1000 left"
    );

    let (out, ops) = turn_ops(&mut s, Mode::Main, "inv", 0);
    assert_eq!(ops, [list("comp/bob/")]);
    // bobby's asic and the unknown abacus are nobody's power.
    assert_eq!(
        out.text,
        "cpu: 3 (power 3)\ngpu: 2 (power 20)\npower: 24 (base 1 + hardware 23)"
    );

    let (out, ops) = turn_ops(&mut s, Mode::Main, "shop", 0);
    assert_eq!(ops, [get("balance/bob")]);
    let rows: Vec<&str> = out.text.lines().collect();
    assert_eq!(rows[1], "cpu              1      1  130");
    assert_eq!(rows[2], "gpu              5     10  26");
    assert_eq!(rows[5], "dark_matter    625  10000  0");
    assert_eq!(rows[6], "You have 130 coins. buy <hw> [n]");

    assert_eq!(s, store_with(&before), "reading commands write nothing");
}

#[test]
fn stats_of_a_player_the_store_has_not_seen_uses_the_starting_values() {
    let mut s = MemStore::default();
    let (out, _) = turn_ops(&mut s, Mode::Main, "stats", 0);
    assert_eq!(
        out.text,
        "bob: Undergraduate at field 5\ncoins: 0\npower: 1 (base 1 + hardware 0)\n\
         problem: Undergraduate, 100 of 100 left"
    );
    let mut s = store_with(&[("bob", "Retired")]);
    let (out, ops) = turn_ops(&mut s, Mode::Main, "stats", 0);
    assert_eq!(ops.len(), 4, "a retired player has no problem to read");
    assert!(out.text.ends_with("problem: none, you are retired"));
}

#[test]
fn map_lists_every_location_and_move_writes_mine() {
    let mut s = store_with(&[("loc/alice", "3"), ("loc/bob", "5"), ("balance/carol", "1")]);
    let (out, ops) = turn_ops(&mut s, Mode::Main, "move bridge", 0);
    assert_eq!(ops, [put("loc/bob", "bridge")]);
    assert_eq!(out.text, "You walk to the bridge.");
    assert_eq!(s.map["loc/bob"], "bridge");

    let (out, ops) = turn_ops(&mut s, Mode::Main, "map", 0);
    assert_eq!(ops, [list("loc/")]);
    assert!(out.text.contains("\n        [bridge]\n"), "{}", out.text);
    assert!(
        out.text.ends_with("3: alice\nbridge: bob (you)"),
        "{}",
        out.text
    );
}

#[test]
fn mine_adds_between_zero_and_rounds_times_power_and_replays_the_same_dice() {
    let before = [("balance/bob", "10"), ("comp/bob/gpu", "1")];
    let mut earned = Vec::new();
    for seed in 0..20 {
        let mut s = store_with(&before);
        let (out, ops) = turn_ops(&mut s, Mode::Main, "mine 5", seed);
        assert_eq!(out.status, Status::Ok);
        let balance: u64 = s.map["balance/bob"].parse().unwrap();
        assert!((10..=10 + 5 * 11).contains(&balance), "{balance}");
        assert_eq!(
            ops,
            [
                list("comp/bob/"),
                get("balance/bob"),
                put("balance/bob", &balance.to_string())
            ]
        );
        assert!(out
            .text
            .starts_with("You mine 5 rounds at power 11 and earn"));
        // The same seed gives the same yield.
        let mut again = store_with(&before);
        turn_ops(&mut again, Mode::Main, "mine 5", seed);
        assert_eq!(again, s);
        earned.push(balance);
    }
    earned.dedup();
    assert!(earned.len() > 5, "the dice vary with the seed: {earned:?}");
}

#[test]
fn buy_spends_as_much_as_possible_at_the_listed_price() {
    let mut s = store_with(&[("balance/bob", "1300"), ("comp/bob/asic", "1")]);
    let (out, ops) = turn_ops(&mut s, Mode::Main, "buy asic", 0);
    assert_eq!(
        ops,
        [
            get("balance/bob"),
            get("comp/bob/asic"),
            put("balance/bob", "0"),
            put("comp/bob/asic", "53")
        ]
    );
    assert_eq!(
        out.text,
        "You buy 52 asic for 1300 coins; you have 0 coins left and 53 asic."
    );

    let mut s = store_with(&[("balance/bob", "1300")]);
    let (out, _) = turn_ops(&mut s, Mode::Main, "buy dark_matter", 0);
    assert_eq!(out.status, Status::Ok);
    assert_eq!(s.map["balance/bob"], "50");
    assert_eq!(s.map["comp/bob/dark_matter"], "2");
    let (_, _) = turn_ops(&mut s, Mode::Main, "buy gpu 3", 0);
    assert_eq!(s.map["balance/bob"], "35");
    assert_eq!(s.map["comp/bob/gpu"], "3");
}

#[test]
fn buying_without_the_coins_is_refused_and_writes_nothing() {
    let before = [("balance/bob", "124")];
    let mut s = store_with(&before);
    let (out, ops) = turn_ops(&mut s, Mode::Main, "buy quantum", 0);
    assert_eq!(out.status, Status::Refused);
    assert_eq!(
        out.text,
        "insufficient funds: 1 quantum costs 125 coins and you have 124"
    );
    assert_eq!(ops, [get("balance/bob")]);
    let (out, _) = turn_ops(&mut s, Mode::Main, "buy asic 5", 0);
    assert_eq!(out.status, Status::Refused);
    assert_eq!(out.mode, Mode::Main);
    let mut empty = MemStore::default();
    let (out, _) = turn_ops(&mut empty, Mode::Main, "buy cpu", 0);
    assert_eq!(
        out.text,
        "insufficient funds: 1 cpu costs 1 coins and you have 0"
    );
    assert_eq!(s, store_with(&before));
    assert_eq!(empty, MemStore::default());
}

#[test]
fn solve_wears_down_the_shared_problem_then_promotes() {
    let mut s = store_with(&[("bob", "Undergraduate"), ("comp/bob/gpu", "4")]);
    // No hardware breaks with this seed (checked by the writes below).
    let (out, ops) = turn_ops(&mut s, Mode::Main, "solve", 1);
    assert_eq!(out.mode, Mode::Solving, "{}", out.text);
    assert_eq!(
        out.text,
        "You work on the Undergraduate problem with power 41: 59 of 100 left."
    );
    assert_eq!(
        ops,
        [
            get("bob"),
            list("comp/bob/"),
            get("Undergraduate"),
            put("Undergraduate", "59")
        ]
    );
    // Alice, at the same level, works on the same problem.
    let alice = Player::new("alice").unwrap();
    let out = run_line_for(&mut s, &alice, Mode::Main, "solve");
    assert!(out.text.ends_with("58 of 100 left."), "{}", out.text);

    let (out, _) = turn_ops(&mut s, Mode::Solving, "solve", 1);
    assert!(out.text.ends_with("17 of 100 left."), "{}", out.text);
    let (out, _) = turn_ops(&mut s, Mode::Solving, "solve", 1);
    assert_eq!(out.mode, Mode::Main);
    assert!(
        out.text.contains("You are promoted to Masters"),
        "{}",
        out.text
    );
    assert_eq!(s.map["bob"], "Masters");
    assert_eq!(s.map["Undergraduate"], "100", "the problem starts over");
    assert_eq!(s.map["comp/bob/gpu"], "4");
}

fn run_line_for(s: &mut MemStore, p: &Player, mode: Mode, line: &str) -> Outcome {
    run_line(s, p, mode, line, 1)
}

#[test]
fn solving_can_break_a_unit_of_hardware() {
    let mut broken = 0;
    for seed in 0..200 {
        let mut s = store_with(&[("comp/bob/cpu", "2"), ("comp/bob/gpu", "1")]);
        let (out, ops) = turn_ops(&mut s, Mode::Main, "solve", seed);
        if let Some(Op::Put { key, value }) = ops.get(4) {
            broken += 1;
            let hw = key.strip_prefix("comp/bob/").unwrap();
            let before = if hw == "cpu" { 2 } else { 1 };
            assert_eq!(value, &(before - 1).to_string());
            assert!(
                out.text.contains(&format!("Your {hw} breaks")),
                "{}",
                out.text
            );
        }
        // The hit uses the power from before the break.
        assert!(out.text.contains("with power 13"), "{}", out.text);
    }
    // About 1 in BREAK_ODDS: between 5 and 45 of 200.
    assert!((5..=45).contains(&broken), "{broken}");
    // With no hardware nothing can break.
    for seed in 0..50 {
        let (_, ops) = turn_ops(&mut MemStore::default(), Mode::Main, "solve", seed);
        assert_eq!(ops.len(), 4);
    }
}

#[test]
fn the_professor_retires_and_a_retired_player_solves_nothing() {
    let mut s = store_with(&[
        ("bob", "Professor"),
        ("Professor", "3"),
        ("comp/bob/cpu", "5"),
    ]);
    let (out, _) = turn_ops(&mut s, Mode::Main, "solve", 1);
    assert!(out.text.contains("promoted to Retired"), "{}", out.text);
    assert_eq!(s.map["bob"], "Retired");
    assert_eq!(s.map["Professor"], "10000000");
    let before = s.clone();
    let (out, ops) = turn_ops(&mut s, Mode::Main, "solve", 1);
    assert_eq!(
        (out.text.as_str(), out.mode, out.status),
        (
            "You are retired: there is nothing left to solve.",
            Mode::Main,
            Status::Ok
        )
    );
    assert_eq!(ops, [get("bob")]);
    assert_eq!(s, before);
}

#[test]
fn resign_inv_and_quit_change_the_mode_without_writing() {
    let mut s = MemStore::default();
    let (out, ops) = turn_ops(&mut s, Mode::Solving, "resign", 0);
    assert_eq!((out.mode, ops.len()), (Mode::Main, 0));
    let (out, _) = turn_ops(&mut s, Mode::Solving, "inv", 0);
    assert_eq!(out.mode, Mode::Solving);
    assert_eq!(
        out.text,
        "You own no hardware.\npower: 1 (base 1 + hardware 0)"
    );
    let (out, ops) = turn_ops(&mut s, Mode::Solving, "quit", 0);
    assert_eq!((out.mode, ops.len()), (Mode::Gone, 0));
    assert_eq!(out.text, "Goodbye, bob.");
    assert_eq!(s, MemStore::default());
}

#[test]
fn unknown_commands_and_wrong_modes_are_errors_that_touch_nothing() {
    let mut s = MemStore::default();
    for (mode, line, text) in [
        (
            Mode::Main,
            "fly away",
            "error: unknown command \"fly\"; type help for the list",
        ),
        (
            Mode::Main,
            "resign",
            "error: you are not solving anything to resign from",
        ),
        (
            Mode::Solving,
            "mine 3",
            "error: you are working on a problem: solve, inv or resign",
        ),
        (
            Mode::Main,
            "mine lots",
            "error: mine takes a number of rounds from 1 to 1000, not \"lots\"",
        ),
    ] {
        let (out, ops) = turn_ops(&mut s, mode, line, 0);
        assert_eq!(out.text, text);
        assert_eq!(
            (out.status, out.mode, ops.len()),
            (Status::BadCommand, mode, 0)
        );
    }
    assert_eq!(s, MemStore::default());
}

#[test]
fn a_turn_asks_one_op_at_a_time_and_reports_store_failures() {
    let (mut turn, step) = Turn::start(&bob(), Mode::Main, "buy gpu", 0);
    assert_eq!(step, Step::Need(get("balance/bob")));
    let step = turn.resume(Reply::Value(Some("12".to_string())));
    assert_eq!(step, Step::Need(get("comp/bob/gpu")));
    let step = turn.resume(Reply::Value(None));
    assert_eq!(step, Step::Need(put("balance/bob", "2")));
    assert_eq!(put("balance/bob", "2").to_string(), "Put balance/bob 2");
    assert_eq!(list("").to_string(), "List");
    assert_eq!(list("loc/").to_string(), "List loc/");
    assert_eq!(get("bob").to_string(), "Get bob");
    let step = turn.resume(Reply::Failed("connection refused".to_string()));
    let Step::Done(out) = step else {
        panic!("a failed reply ends the turn")
    };
    assert_eq!(out.status, Status::StoreFailed);
    assert_eq!(out.text, "store error: connection refused");
    assert_eq!(out.mode, Mode::Main);
    assert_eq!(turn.ops_answered(), 3);
    // Later replies change nothing.
    assert_eq!(turn.resume(Reply::Stored), Step::Done(out));
}

#[test]
fn a_reply_of_the_wrong_kind_is_a_store_error_not_a_panic() {
    let (mut turn, _) = Turn::start(&bob(), Mode::Main, "map", 0);
    let Step::Done(out) = turn.resume(Reply::Value(None)) else {
        panic!("a wrong reply ends the turn")
    };
    assert_eq!(out.status, Status::StoreFailed);
    assert!(out
        .text
        .starts_with("store error: the reply Value(None) does not answer List"));
}

#[test]
fn values_the_game_cannot_read_are_store_errors() {
    for (pairs, line, text) in [
        (
            &[("balance/bob", "lots")][..],
            "mine 1",
            "store error: the balance holds \"lots\", not a number",
        ),
        (
            &[("bob", "Wizard")][..],
            "solve",
            "store error: bob's level holds \"Wizard\", not a level",
        ),
        (
            &[("comp/bob/cpu", "-1")][..],
            "inv",
            "store error: the cpu count holds \"-1\", not a number",
        ),
        (
            &[("Undergraduate", "x")][..],
            "stats",
            "store error: the Undergraduate problem holds \"x\", not a number",
        ),
    ] {
        let mut s = store_with(pairs);
        let (out, _) = turn_ops(&mut s, Mode::Main, line, 0);
        assert_eq!((out.text.as_str(), out.status), (text, Status::StoreFailed));
        assert_eq!(s, store_with(pairs));
    }
}

#[test]
fn a_pipe_session_reads_like_a_transcript() {
    let mut s = MemStore::default();
    let got = session(
        &mut s,
        "bob",
        b"move 1\r\n\n   \nbuy cpu\nDANCE\nsolve\ninv\nresign\nquit\nstats\n",
    );
    let expect = "Welcome to CMUD, bob. You start as an Undergraduate at field 5, with no coins. \
                  Type help for the commands.\n\
                  > You walk to field 1.\n\
                  > > > insufficient funds: 1 cpu costs 1 coins and you have 0\n\
                  > error: unknown command \"dance\"; type help for the list\n\
                  > You work on the Undergraduate problem with power 1: 99 of 100 left.\n\
                  solve> You own no hardware.\npower: 1 (base 1 + hardware 0)\n\
                  solve> You put the problem aside.\n\
                  > Goodbye, bob.\n";
    assert_eq!(got, expect);
    assert_eq!(
        s,
        store_with(&[("loc/bob", "1"), ("Undergraduate", "99")]),
        "nothing after quit was played"
    );
}

#[test]
fn end_of_input_ends_the_session_cleanly_even_mid_line_or_while_solving() {
    let mut s = MemStore::default();
    let got = session(&mut s, "bob", b"solve\nmove 2");
    assert!(
        got.ends_with("solve> error: you are working on a problem: solve, inv or resign\nsolve> \nGoodbye, bob.\n"),
        "{got}"
    );
    let got = session(&mut MemStore::default(), "bob", b"");
    assert!(got.ends_with("commands.\n> \nGoodbye, bob.\n"), "{got}");
    // A line that is not UTF-8 is an unknown command, not an I/O error.
    let got = session(&mut MemStore::default(), "bob", b"h\xffelp\n");
    assert!(
        got.contains("> error: unknown command \"h\u{fffd}elp\""),
        "{got}"
    );
}

#[test]
fn two_sessions_on_one_store_see_each_other() {
    let mut s = MemStore::default();
    session(&mut s, "alice", b"move fence\n");
    let got = session(&mut s, "bob", b"map\n");
    assert!(got.contains("fence: alice\n5: bob (you)\n"), "{got}");
    let got = session(&mut s, "alice", b"stats\n");
    assert!(got.starts_with("Welcome back, alice."), "{got}");
    assert!(got.contains("alice: Undergraduate at the fence"), "{got}");
}

#[test]
fn an_invalid_name_is_refused_before_anything_is_written() {
    let mut out = Vec::new();
    let err = play(
        &mut MemStore::default(),
        "PhD",
        &mut &b"stats\n"[..],
        &mut out,
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("name of a level"), "{err}");
    assert!(out.is_empty());
}

/// A store that fails every call, as a server that went away.
struct Down;

impl Store for Down {
    fn get(&mut self, _: &str) -> StoreResult<Option<String>> {
        Err("server unreachable".to_string())
    }
    fn put(&mut self, _: &str, _: &str) -> StoreResult<()> {
        Err("server unreachable".to_string())
    }
    fn list(&mut self, _: &str) -> StoreResult<Vec<(String, String)>> {
        Err("server unreachable".to_string())
    }
}

#[test]
fn store_errors_are_reported_and_the_session_goes_on() {
    let got = session(&mut Down, "bob", b"stats\nhelp\nmap\n");
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "store error: server unreachable");
    assert_eq!(lines[1], "> store error: server unreachable");
    assert_eq!(lines[2], "> Commands:");
    assert!(
        got.contains("> store error: server unreachable\n> \nGoodbye, bob.\n"),
        "{got}"
    );
}

/// Plays `turns` bot turns for each of `names` in rotation on one store, answering each
/// turn by hand as a simulated node would. Returns the store and every command line.
fn bots(seed: u64, names: &[&str], turns: usize) -> (MemStore, Vec<String>, Vec<Outcome>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut bots: Vec<Bot> = names
        .iter()
        .map(|n| Bot::new(Player::new(n).unwrap()))
        .collect();
    let mut s = MemStore::default();
    let (mut lines, mut outcomes) = (Vec::new(), Vec::new());
    for i in 0..turns {
        let bot = &mut bots[i % names.len()];
        let mode = bot.mode();
        let (mut turn, step) = bot.next_turn(&mut rng);
        let command = turn.parsed().unwrap().clone();
        assert!(
            command.allowed_in(mode).is_ok() || mode == Mode::Gone,
            "{command} in {mode:?}"
        );
        lines.push(command.to_string());
        let out = drive(&mut s, &mut turn, step);
        bot.finish(&out);
        outcomes.push(out);
    }
    (s, lines, outcomes)
}

#[test]
fn bots_are_deterministic_and_play_only_commands_the_game_accepts() {
    let (s1, l1, o1) = bots(42, &["ann", "ben", "cat"], 3000);
    let (s2, l2, o2) = bots(42, &["ann", "ben", "cat"], 3000);
    assert_eq!((&s1, &l1, &o1), (&s2, &l2, &o2));
    let (_, l3, _) = bots(43, &["ann", "ben", "cat"], 3000);
    assert_ne!(l1, l3, "another seed, another game");

    assert_eq!(&l1[..3], ["enter", "enter", "enter"]);
    for out in &o1 {
        assert!(
            matches!(out.status, Status::Ok | Status::Refused),
            "{out:?}"
        );
        assert_ne!(out.mode, Mode::Gone, "bots never quit");
    }
    for line in &l1[3..] {
        assert_eq!(Command::parse(line).unwrap().to_string(), *line);
    }
    // They make progress: coins mined, hardware bought, someone promoted.
    for n in ["ann", "ben", "cat"] {
        assert!(s1.map.contains_key(&format!("loc/{n}")));
        assert!(
            s1.map.keys().any(|k| k.starts_with(&format!("comp/{n}/"))),
            "{n}"
        );
    }
    assert!(
        ["ann", "ben", "cat"]
            .iter()
            .any(|n| s1.map.get(*n).is_some_and(|l| l != "Undergraduate")),
        "{:?}",
        s1.map
    );
    let pairs = s1.map.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    assert_eq!(audit(pairs), Vec::<String>::new());
    let solving = l1.iter().filter(|l| *l == "solve").count();
    let mining = l1.iter().filter(|l| l.starts_with("mine ")).count();
    assert!(
        solving > 300 && mining > 500,
        "solve {solving}, mine {mining}"
    );
}

#[test]
fn a_bot_whose_session_ended_enters_again() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut bot = Bot::new(bob());
    assert_eq!(bot.choose(&mut rng), Command::Enter);
    bot.finish(&Outcome {
        text: String::new(),
        mode: Mode::Solving,
        status: Status::Ok,
    });
    for _ in 0..50 {
        let c = bot.choose(&mut rng);
        assert!(
            matches!(c, Command::Solve | Command::Inv | Command::Resign),
            "{c}"
        );
    }
    bot.finish(&Outcome {
        text: String::new(),
        mode: Mode::Gone,
        status: Status::Ok,
    });
    assert_eq!(bot.choose(&mut rng), Command::Enter);
}
