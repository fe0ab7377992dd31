//! The wasm32 runtime support of a contract: the global allocator and the panic handler.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 64 * 1024;

/// A bump allocator: each call runs in a fresh instance, so nothing needs freeing. The heap
/// starts at the end of the memory the module was given and grows it page by page (up to the
/// declared maximum; past it allocation fails, which aborts the call).
struct Bump {
    /// The next free address (0 before the first allocation).
    next: AtomicUsize,
    /// The end of the memory grown so far.
    end: AtomicUsize,
    /// The start of the last block handed out, so growing it in place is possible.
    last: AtomicUsize,
}

impl Bump {
    fn take(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Ordering::Relaxed);
        if next == 0 {
            next = wasm32::memory_size(0) * PAGE;
            self.end.store(next, Ordering::Relaxed);
        }
        let start = match next.checked_add(layout.align() - 1) {
            Some(v) => v & !(layout.align() - 1),
            None => return core::ptr::null_mut(),
        };
        let Some(new_next) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if !self.ensure(new_next) {
            return core::ptr::null_mut();
        }
        self.next.store(new_next, Ordering::Relaxed);
        self.last.store(start, Ordering::Relaxed);
        start as *mut u8
    }

    /// Grows the memory until `until` is inside it.
    fn ensure(&self, until: usize) -> bool {
        let end = self.end.load(Ordering::Relaxed);
        if until <= end {
            return true;
        }
        let pages = (until - end).div_ceil(PAGE);
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        self.end.store(end + pages * PAGE, Ordering::Relaxed);
        true
    }
}

// SAFETY: `alloc` returns either null or a fresh block of at least `layout.size()` bytes aligned
// to `layout.align()` inside grown memory that no other block overlaps (the bump pointer only
// moves forward); wasm32 contracts are single-threaded.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.take(layout)
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The last block grows (or shrinks) in place: the common case of a Vec being filled.
        if ptr as usize == self.last.load(Ordering::Relaxed) {
            if let Some(new_next) = (ptr as usize).checked_add(new_size) {
                if self.ensure(new_next) {
                    self.next.store(new_next, Ordering::Relaxed);
                    return ptr;
                }
            }
            return core::ptr::null_mut();
        }
        // SAFETY: `layout` with `new_size` is valid per the realloc contract (non-zero size,
        // no overflow when rounded to the alignment).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = self.take(new_layout);
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not overlap (the new one
            // lies past the bump pointer, beyond `ptr`'s block).
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    next: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    last: AtomicUsize::new(0),
};

/// Sends the panic's message to `debug_message` (so a dry-run shows why the call failed), then
/// traps: the call fails and its changes are undone.
///
/// The text is assembled without `core::fmt`: the precompiled `core` is built with reference
/// types, and its formatting machinery's indirect calls would carry their overlong encoding
/// into the contract, which upload validation refuses. A message with arguments is therefore
/// shown as its location only; run the test natively to see it in full.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut msg = alloc::string::String::from("panic: ");
    match info.message().as_str() {
        Some(text) => msg.push_str(text),
        None => msg.push_str("(formatted message)"),
    }
    if let Some(loc) = info.location() {
        msg.push_str(" at ");
        msg.push_str(loc.file());
        msg.push(':');
        push_decimal(&mut msg, loc.line());
    }
    crate::env::debug_message(&msg);
    wasm32::unreachable()
}

fn push_decimal(s: &mut alloc::string::String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        s.push(*d as char);
    }
}
