//! A bounded memory of recently accepted event ids, so a client's retry is
//! answered 202 again without writing a second row.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use uuid::Uuid;

pub struct RecentIds {
    inner: Mutex<Inner>,
    capacity: usize,
}

struct Inner {
    ids: HashSet<Uuid>,
    /// Oldest first; the id to forget when full.
    order: VecDeque<Uuid>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> RecentIds {
        RecentIds { inner: Mutex::new(Inner { ids: HashSet::new(), order: VecDeque::new() }), capacity }
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.lock().ids.contains(id)
    }

    pub fn remember(&self, id: Uuid) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if !inner.ids.insert(id) {
            return;
        }
        inner.order.push_back(id);
        if inner.order.len() > self.capacity
            && let Some(oldest) = inner.order.pop_front()
        {
            inner.ids.remove(&oldest);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a valid set: keep going.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_beyond_capacity() {
        let recent = RecentIds::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            recent.remember(*id);
        }
        assert!(!recent.contains(&ids[0]));
        assert!(recent.contains(&ids[1]) && recent.contains(&ids[2]));
    }
}
