#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| securesend_fuzz::config(data));
