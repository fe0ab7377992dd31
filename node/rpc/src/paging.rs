//! Pages of long lists (a block's events, a receipt's events), bounded by the bytes of their
//! JSON as well as by count: a block may hold many megabytes of events (each transaction's cap
//! times the transactions of a block), more than one response may carry (the server's
//! `max_response_bytes`, 32 MiB by default) or a client takes (the SDK's HTTP client: 10 MiB).

use serde::Serialize;
use serde_json::Value;

/// The most JSON one page of entries may take: under the client SDK's 10 MiB response limit
/// with room for the envelope, and under the server's.
pub const PAGE_BYTES: usize = 8 << 20;

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    /// The entries, as JSON.
    pub items: Vec<Value>,
    /// Index of the first.
    pub offset: u64,
    /// Index of the first entry not in this page, when some remain.
    pub next: Option<u64>,
    /// Entries in the whole list.
    pub total: u64,
}

/// Counts bytes written.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes of `v` as compact JSON (what the server sends).
pub fn json_len(v: &impl Serialize) -> usize {
    let mut c = Count(0);
    // Writing a JSON value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// The page of `items` from `offset`: at most `limit` entries (`None`: no count limit) whose
/// JSON array takes at most `max_bytes`, but at least one entry when any remain, so that every
/// page makes progress. An offset past the end is refused (the message says how many there are);
/// an offset at the end gives an empty last page.
pub fn page<T>(
    items: &[T],
    offset: u64,
    limit: Option<u64>,
    max_bytes: usize,
    to_json: impl Fn(&T) -> Value,
) -> Result<Page, String> {
    let total = items.len() as u64;
    if offset > total {
        return Err(format!("offset {offset} is past the end: there are {total} entries"));
    }
    let limit = limit.unwrap_or(u64::MAX);
    let mut out = Vec::new();
    // "[" and "]".
    let mut bytes = 2usize;
    let mut at = offset;
    while at < total && (out.len() as u64) < limit {
        let v = to_json(&items[at as usize]);
        // The entry and, after the first, its comma.
        let len = json_len(&v) + usize::from(!out.is_empty());
        if !out.is_empty() && bytes + len > max_bytes {
            break;
        }
        bytes += len;
        out.push(v);
        at += 1;
    }
    Ok(Page {
        items: out,
        offset,
        next: (at < total).then_some(at),
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An event as `watt_events` shows one: 4 topics and a 40-byte payload, ~450 bytes of JSON.
    fn event(i: u32) -> Value {
        let topic = |t: u32| format!("0x{}", hex::encode([(i + t) as u8; 32]));
        json!({
            "phase": {"transaction": i % 7},
            "event": format!("0x{}", hex::encode([i as u8; 40])),
            "topics": [topic(0), topic(1), topic(2), topic(3)],
        })
    }

    #[test]
    fn a_list_larger_than_a_response_is_read_whole_page_by_page() {
        // 100,000 four-topic events (one 10^9-gas call could emit twice as many before the
        // per-transaction cap): ~45 MB of JSON, more than the server's 32 MiB response limit.
        let events: Vec<u32> = (0..100_000).collect();
        let (mut offset, mut pages, mut bytes) = (0u64, 0, 0usize);
        loop {
            let p = page(&events, offset, None, PAGE_BYTES, |i| event(*i)).unwrap();
            assert_eq!((p.offset, p.total), (offset, 100_000));
            let len = json_len(&p.items);
            assert!(len <= PAGE_BYTES, "page {pages} is {len} bytes");
            // Full pages are full: the next entry would not have fit.
            if p.next.is_some() {
                assert!(len + 500 > PAGE_BYTES, "page {pages} stopped early at {len} bytes");
            }
            // The page is the list's entries from its offset, in order.
            for (k, v) in p.items.iter().enumerate() {
                assert_eq!(*v, event(offset as u32 + k as u32));
            }
            bytes += len;
            pages += 1;
            let read = offset + p.items.len() as u64;
            match p.next {
                Some(n) => {
                    assert_eq!(n, read, "the next page starts after this one");
                    offset = n;
                }
                None => {
                    assert_eq!(read, 100_000, "the last page ends the list");
                    break;
                }
            }
        }
        assert!(
            bytes > 32 << 20,
            "the test list must exceed one response: {bytes} bytes"
        );
        assert!(pages >= 5, "{pages} pages");
    }

    #[test]
    fn a_limit_bounds_the_count_and_offsets_are_checked() {
        let items: Vec<u32> = (0..10).collect();
        let p = page(&items, 3, Some(4), PAGE_BYTES, |i| json!(i)).unwrap();
        assert_eq!(p.items, vec![json!(3), json!(4), json!(5), json!(6)]);
        assert_eq!((p.next, p.total), (Some(7), 10));
        let last = page(&items, 7, Some(4), PAGE_BYTES, |i| json!(i)).unwrap();
        assert_eq!((last.items.len(), last.next), (3, None));
        let end = page(&items, 10, None, PAGE_BYTES, |i| json!(i)).unwrap();
        assert!(end.items.is_empty() && end.next.is_none());
        assert_eq!(
            page(&items, 11, None, PAGE_BYTES, |i| json!(i)).unwrap_err(),
            "offset 11 is past the end: there are 10 entries"
        );
    }

    #[test]
    fn an_entry_larger_than_a_page_still_comes_alone() {
        let items = ["a".repeat(100), "b".repeat(10)];
        let p = page(&items, 0, None, 50, |s| json!(s)).unwrap();
        assert_eq!((p.items.len(), p.next), (1, Some(1)));
        // The byte bound is exact: "[", the 12-byte string, "]" fit 14 bytes, not 13.
        assert_eq!(page(&items, 1, None, 14, |s| json!(s)).unwrap().items.len(), 1);
        let two = ["x".repeat(10), "y".repeat(10)];
        // ["xxxxxxxxxx","yyyyyyyyyy"] is 27 bytes.
        assert_eq!(page(&two, 0, None, 27, |s| json!(s)).unwrap().next, None);
        assert_eq!(page(&two, 0, None, 26, |s| json!(s)).unwrap().next, Some(1));
    }
}
