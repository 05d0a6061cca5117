//! A small work pool for the `/proc` scan: a few threads pull items from a
//! shared index, so a process with 50k fds does not hold up the rest.

use super::error::CollectError;

/// Runs `work` over `items` on up to four threads (the caller orders items
/// largest first so the threads finish together); results keep item order.
pub(super) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Result<Vec<R>, CollectError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(items.len());
    if threads <= 1 {
        return Ok(items.iter().map(work).collect());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { return done };
            done.push((i, work(item)));
        }
    };
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        for handle in handles {
            for (i, r) in handle.join().map_err(|_| CollectError::ThreadPanicked)? {
                slots[i] = Some(r);
            }
        }
        Ok(slots.into_iter().flatten().collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order() {
        let items: Vec<u32> = (0..100).collect();
        assert_eq!(parallel_map(&items, |i| i * 2).unwrap(), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(parallel_map(&[] as &[u32], |i| *i).unwrap().is_empty());
    }
}
