//! The two migration trees describe one schema: the same files, the same statements, differing
//! only in the type names the engines spell differently. A migration written for one engine and
//! forgotten for the other fails here, not on a production upgrade.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// SQLite spelling → PostgreSQL spelling, for every type the trees may differ in.
const TYPE_NAMES: &[(&str, &str)] = &[("BLOB", "BYTEA")];

/// Migrations each engine must write its own way, and why. They still exist in both trees.
const ENGINE_SPECIFIC: &[(&str, &str)] =
    &[("0007_cache_feed.sql", "triggers: a feed table on SQLite, notifications on PostgreSQL, each in its own syntax")];

fn tree(engine: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine)
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect()
}

/// The statements of a file with comments and blank lines dropped and PostgreSQL's type names
/// spelt as SQLite's.
fn statements(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| l.split("--").next().unwrap().trim_end())
        .filter(|l| !l.trim().is_empty())
        .map(|l| TYPE_NAMES.iter().fold(l.to_string(), |l, (sqlite, pg)| l.replace(pg, sqlite)))
        .collect()
}

#[test]
fn sqlite_and_postgresql_migration_trees_hold_the_same_files() {
    let sqlite = files(&tree("sqlite"));
    let postgres = files(&tree("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "a migration exists for one engine only");
}

#[test]
fn sqlite_and_postgresql_migrations_differ_only_in_type_names() {
    for name in files(&tree("sqlite")) {
        if ENGINE_SPECIFIC.iter().any(|(file, _)| *file == name) {
            continue;
        }
        let sqlite = statements(&tree("sqlite").join(&name));
        let postgres = statements(&tree("postgres").join(&name));
        assert_eq!(sqlite.len(), postgres.len(), "{name}: the engines' files have different statements");
        for (line, (s, p)) in sqlite.iter().zip(&postgres).enumerate() {
            assert_eq!(s, p, "{name}, statement line {}: the engines differ beyond type names", line + 1);
        }
    }
}
