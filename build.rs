// The migrations are compiled in (include_dir): rebuild when the folder changes,
// including when a file is added, which cargo would not notice by itself.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
