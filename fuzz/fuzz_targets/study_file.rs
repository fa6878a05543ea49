#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mixlaw_fuzz::study_file(data));
