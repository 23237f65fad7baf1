//! The castellan binary's library half: the configuration loader and the demo data. The binary
//! uses them, and so do the fuzz targets (fuzz/), which feed the loader untrusted text and serve
//! the demo data to arbitrary requests.

pub mod config;
pub mod demo;
