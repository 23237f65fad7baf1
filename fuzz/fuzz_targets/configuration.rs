//! The configuration loader on any file text, then the whole-configuration check the server runs
//! before it writes anything: nothing panics, every refusal is a message.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// The check builds the mail transport, which wants the runtime the server always runs it in.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("runtime: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = castellan_cli::config::load_text(Some((Path::new("castellan.toml"), text)), |_| None);
    if let Ok(settings) = loaded {
        let _in_runtime = runtime().enter();
        let _ = castellan_server::bootstrap::check(&settings);
    }
});
