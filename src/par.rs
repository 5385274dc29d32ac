//! Independent work spread over the cores, results in input order: sealing to many
//! recipients, checking many member cards and sealing many messages are each a loop of
//! public-key operations that do not depend on each other. Pure (no I/O), so `crypto`
//! may use it and stay a leaf.

/// At most this many threads: the machines pigeon targets have 2–4 cores.
const MAX_THREADS: usize = 4;

/// `f` over `items`, in order, on up to four scoped threads taking contiguous chunks of at
/// least `min_chunk` items; on the calling thread alone when one chunk holds them all.
pub fn map<T: Sync, R: Send>(items: &[T], min_chunk: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_on(items, min_chunk, MAX_THREADS, f)
}

/// [`map`] on up to `max_threads` threads (and no more than the cores).
pub fn map_on<T: Sync, R: Send>(
    items: &[T],
    min_chunk: usize,
    max_threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(max_threads));
    let chunk = items.len().div_ceil(threads).max(min_chunk.max(1));
    if chunk >= items.len() {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_input_order_whatever_the_chunking() {
        let items: Vec<u32> = (0..1000).collect();
        for min in [0, 1, 7, 16, 999, 1000, 5000] {
            let got = map(&items, min, |x| x * 2);
            assert_eq!(
                got,
                items.iter().map(|x| x * 2).collect::<Vec<_>>(),
                "min {min}"
            );
        }
        assert!(map(&[] as &[u32], 4, |x| *x).is_empty());
    }
}
