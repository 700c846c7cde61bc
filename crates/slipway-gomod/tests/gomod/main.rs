//! Integration tests of slipway-gomod against fixtures produced by the real Go toolchain.
//! One submodule per library module.

mod buildinfo;
mod modfile;
mod module;
mod mvs;
mod mvs_pack;
mod source;
mod sum;
