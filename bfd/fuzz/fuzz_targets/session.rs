//! Fuzz the session state machine with scripts of inputs and times (see
//! `shared/session_script.rs`).
#![no_main]

#[path = "../shared/session_script.rs"]
mod session_script;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    session_script::run(data);
});
