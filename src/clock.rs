//! Coarse clocks for access tracking, and Redis's LFU counter arithmetic.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// True while an LFU `maxmemory-policy` is configured: access then bumps the LFU counter.
pub static LFU_ENABLED: AtomicBool = AtomicBool::new(false);

/// Unix seconds, refreshed by the server cron so hot paths read a plain atomic.
static NOW_S: AtomicU32 = AtomicU32::new(0);

pub fn refresh() {
    NOW_S.store((crate::util::now_ms() / 1000) as u32, Ordering::Relaxed);
}

pub fn now_s() -> u32 {
    let s = NOW_S.load(Ordering::Relaxed);
    if s == 0 {
        refresh();
        return NOW_S.load(Ordering::Relaxed);
    }
    s
}

/// Redis's `LFULogIncr` with the default `lfu-log-factor` of 10.
pub fn lfu_increment(counter: u8) -> u8 {
    if counter == 255 || !LFU_ENABLED.load(Ordering::Relaxed) {
        return 255;
    }
    let base = (counter as f64 - super::keyspace::LFU_INIT as f64).max(0.0);
    let p = 1.0 / (base * 10.0 + 1.0);
    if rand::random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}
