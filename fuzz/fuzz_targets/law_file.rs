#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mixlaw_fuzz::law_file(data));
