//! Shared by every function crate (`build = "../build.rs"`): links the
//! function executables without PIE on Linux.
//!
//! A position-independent executable is relocated by the loader at every
//! start, and chrono-tz's time-zone tables are ~33,000 pointers: ~270
//! copy-on-write page faults per cold start, measured at 1.35–1.9× a
//! hello-world function. A non-PIE executable has those addresses fixed at
//! link time. Only the executables: `-C relocation-model=static` for the
//! whole build breaks crates that also build a shared library.

fn main() {
    println!("cargo:rerun-if-changed=../build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
