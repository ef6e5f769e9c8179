//! libsscard.so carries the SONAME `libsscard.so.1`: programs linked
//! against it ask for that name, which `make install` provides (the real
//! file, with `libsscard.so` a link to it for the linker). The major number
//! changes only when the C ABI of `include/sscard.h` does.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsscard.so.1");
    println!("cargo:rerun-if-changed=build.rs");
}
