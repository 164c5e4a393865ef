//! Process-wide allocator settings for training and generation.
//!
//! A training step allocates and frees the same large activation and gradient
//! buffers every time (hundreds of KiB to tens of MiB). glibc serves blocks
//! above its mmap threshold (128 KiB at start) with fresh mappings and hands
//! the freed top of the heap back to the kernel, so each step page-faults and
//! zeroes those pages again: about 330,000 page faults and a fifth of the CPU
//! time of six LoRA steps on the benchmark model (docs/PERFORMANCE.md).
//! [`keep_freed_memory`] raises both thresholds so freed buffers are reused.
#![allow(unsafe_code)]

/// Blocks up to this size come from the heap instead of their own mapping (glibc's maximum).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 32 << 20;
/// Free memory at the top of the heap kept for reuse instead of returned to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 1 << 30;

/// Tells glibc's allocator to keep freed memory for reuse (see the module
/// docs). Call once at start; returns whether the settings took effect
/// (always `false` on other C libraries, where it does nothing).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes two allocator thresholds; glibc
        // applies it under the allocator's own lock, so any thread may call it.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_thresholds() {
        assert!(super::keep_freed_memory());
    }
}
