//! `embed_migrations!` reads `../migrations` at compile time; without this a
//! new migration directory would not rebuild the crate that embeds it.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
