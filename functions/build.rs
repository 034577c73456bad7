//! Rebuilds the package (and so its tests) when a migration is added: `#[sqlx::test]`
//! embeds `migrations/` at compile time, and cargo does not watch that directory on its own.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
